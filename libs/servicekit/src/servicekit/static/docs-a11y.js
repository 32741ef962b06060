// What Swagger UI and ReDoc render without, added as they render it (WCAG 2.1 AA):
// - a code block that scrolls sideways can be reached by keyboard (2.1.1);
// - a button drawn as an icon only has a name (4.1.2): Swagger UI's copy buttons;
// - Swagger UI's server choice, whose label is empty, and ReDoc's example and content-type
//   choices, labelled by text beside them, have a name (4.1.2).
(function () {
  "use strict";
  function mend(root) {
    root.querySelectorAll("pre:not([tabindex])").forEach(function (pre) {
      pre.setAttribute("tabindex", "0");
    });
    root.querySelectorAll(".copy-to-clipboard button:not([aria-label])").forEach(function (b) {
      if (!b.textContent.trim()) b.setAttribute("aria-label", "Copy to clipboard");
    });
    var servers = root.querySelector("select#servers:not([aria-label])");
    if (servers) servers.setAttribute("aria-label", "Servers");
    root.querySelectorAll("#redoc select:not([aria-label])").forEach(function (select) {
      var beside = select.parentElement && select.parentElement.previousElementSibling;
      var text = beside ? beside.textContent.trim() : "";
      select.setAttribute("aria-label", text || "Choice");
    });
  }
  new MutationObserver(function () {
    mend(document.body);
  }).observe(document.body, { childList: true, subtree: true });
  mend(document.body);
})();
