// Every page: what the templates would otherwise say in inline script or style, which the Content-Security-Policy
// (script-src and style-src 'self') does not allow. Styles set through the DOM (element.style) are allowed.
document.documentElement.classList.add("js");

(function () {
  "use strict";

  // data-progress="37": the bar's width. data-aspect="9 / 16": a preview shaped like the video it holds.
  function applyDataStyles(root) {
    root.querySelectorAll("[data-progress]").forEach((el) => {
      el.style.width = Number(el.dataset.progress) + "%";
    });
    root.querySelectorAll("[data-aspect]").forEach((el) => {
      el.style.aspectRatio = el.dataset.aspect;
      el.style.width = "min(100%, calc(70vh * " + el.dataset.aspect + "))";
    });
  }

  document.addEventListener("DOMContentLoaded", () => applyDataStyles(document));
  // htmx:load fires for every piece of content htmx swaps in (the job page's polled status).
  document.addEventListener("htmx:load", (event) => applyDataStyles(event.target));
})();
