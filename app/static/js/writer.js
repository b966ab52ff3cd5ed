// Writer editor: live length counters for meta fields, and a warning before leaving with unsaved changes.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-counter]").forEach(function (field) {
    const limit = parseInt(field.getAttribute("data-counter"), 10);
    const counter = document.querySelector('[data-counter-for="' + field.id + '"]');
    const update = function () {
      if (!counter) {
        return;
      }
      counter.textContent = field.value.length;
      counter.classList.toggle("error", field.value.length > limit);
    };
    field.addEventListener("input", update);
    update();
  });
  document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
    let dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  });
});
