// Submits the authorize form as soon as the page loads (POST authorize; CSP allows only our own scripts).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) { form.submit(); }
});
