"""Sensate: a directory of sex therapists with verified credentials and referral matching."""
