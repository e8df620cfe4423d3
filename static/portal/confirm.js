// Asks before a form whose button carries data-confirm is sent (kept out of the HTML so the
// Content-Security-Policy can forbid inline scripts and event handlers).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
