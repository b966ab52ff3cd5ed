// IGNY8 page behaviour. No inline scripts: the Content-Security-Policy forbids them.
document.addEventListener("DOMContentLoaded", function () {
  if (window.htmx) {
    // Swap 422 form partials and error fragments (the server retargets errors to #flash).
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "286", swap: true },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "[45]..", swap: true, error: true },
    ];
  }
});

document.addEventListener("click", function (event) {
  const close = event.target.closest("[data-dismiss]");
  if (close) {
    close.parentElement.remove();
    return;
  }
  const confirmButton = event.target.closest("[data-confirm]");
  if (confirmButton && !window.confirm(confirmButton.getAttribute("data-confirm"))) {
    event.preventDefault();
    event.stopPropagation();
  }
}, true);

document.addEventListener("change", function (event) {
  // Invitation form: site choices matter only for editors and viewers.
  if (event.target.matches("[data-role-select]")) {
    const sites = document.querySelector("[data-site-choices]");
    if (sites) {
      const scoped = ["editor", "viewer"].includes(event.target.value);
      sites.hidden = !scoped;
    }
  }
});

document.addEventListener("htmx:responseError", function (event) {
  const flash = document.getElementById("flash");
  if (flash && !event.detail.xhr.getResponseHeader("HX-Retarget")) {
    flash.innerHTML = '<div class="flash flash-error" role="alert"><span>The server could not complete that request (' +
      event.detail.xhr.status + '). Please try again.</span></div>';
  }
});
document.addEventListener("htmx:sendError", function () {
  const flash = document.getElementById("flash");
  if (flash) {
    flash.innerHTML = '<div class="flash flash-error" role="alert"><span>IGNY8 cannot be reached. Check your connection and try again.</span></div>';
  }
});

// Tables with selection: a header checkbox ticks every row checkbox of the same name.
document.addEventListener("change", function (event) {
  const all = event.target.closest("[data-check-all]");
  if (!all) {
    return;
  }
  const name = all.getAttribute("data-check-all");
  const scope = all.closest("table") || document;
  scope.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
    box.checked = all.checked;
  });
});

// Bulk forms ask before deleting.
document.addEventListener("submit", function (event) {
  const form = event.target;
  const question = form.getAttribute && form.getAttribute("data-confirm-delete");
  if (!question) {
    return;
  }
  const action = form.querySelector('select[name="action"]');
  if (action && action.value === "delete" && !window.confirm(question)) {
    event.preventDefault();
    event.stopPropagation();
  }
}, true);
