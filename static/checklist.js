// Checklist form: offer the technique field only for radiofrequency ablation (a hidden field is disabled, so it is
// not sent). The form works the same without this script; the server checks every field either way.
document.addEventListener("DOMContentLoaded", function () {
  var procedure = document.getElementById("field-procedure");
  var technique = document.querySelector('[data-field="technique"]');
  if (!procedure || !technique) { return; }
  var select = technique.querySelector("select");
  function update() {
    var hide = procedure.value !== "radiofrequency-ablation" && !technique.classList.contains("invalid");
    technique.hidden = hide;
    select.disabled = hide;
  }
  procedure.addEventListener("change", update);
  update();
});
