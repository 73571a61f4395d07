// clubgate pages: the only script, loaded from the gateway (no inline script anywhere; the
// Content-Security-Policy allows none). Pages work without it.
//
// A form marked "once" disables its button when sent, so a double tap sends one request; the
// gateway's idempotency keys make a resent form post once even without this.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("once")) return;
  if (form.dataset.sent === "yes") {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "yes";
  // Disabled after the form's data is taken: a disabled button's name and value (the action a
  // form with two buttons asks for) would not be sent.
  setTimeout(() => {
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
  }, 0);
});
// Coming back to a page from the browser's history shows it as it was; let its forms send again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form.once")) {
    delete form.dataset.sent;
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = false;
  }
});
