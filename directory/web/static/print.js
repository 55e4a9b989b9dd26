// Progressive enhancement for the referral summary: a Print button. Without JavaScript the
// page says to use the browser's Print command instead; nothing else depends on this file.
document.addEventListener("DOMContentLoaded", function () {
  var hint = document.querySelector(".print-hint");
  if (!hint || !window.print) return;
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = "Print";
  button.addEventListener("click", function () { window.print(); });
  hint.replaceWith(button);
});
