// Every form of the app: while its request runs, show "Working…" and disable its buttons, so a second click cannot
// send it twice (the server is safe against a double submission too). The clicked button's name and value are
// kept in a hidden field, because a disabled button is not sent with the form.
(function () {
  function busy(form, submitter) {
    if (form.getAttribute("data-submitting") === "1") { return false; }
    form.setAttribute("data-submitting", "1");
    form.setAttribute("aria-busy", "true");
    if (submitter && submitter.name) {
      var keep = document.createElement("input");
      keep.type = "hidden";
      keep.name = submitter.name;
      keep.value = submitter.value;
      form.appendChild(keep);
    }
    var buttons = form.querySelectorAll("button, input[type=submit]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
    var indicator = document.getElementById("busy-indicator");
    if (indicator) { indicator.hidden = false; }
    return true;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("data-autosubmit")) { return; }
    if (!busy(form, event.submitter)) { event.preventDefault(); }
  });
  // Coming back through the browser's history shows the page as it was left: make it usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    var forms = document.querySelectorAll("form[data-submitting]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].removeAttribute("data-submitting");
      forms[i].removeAttribute("aria-busy");
      var buttons = forms[i].querySelectorAll("button, input[type=submit]");
      for (var j = 0; j < buttons.length; j++) { buttons[j].disabled = false; }
    }
    var indicator = document.getElementById("busy-indicator");
    if (indicator) { indicator.hidden = true; }
  });
})();
