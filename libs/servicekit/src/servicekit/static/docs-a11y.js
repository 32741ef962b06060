// What Swagger UI and ReDoc render without, added as they render it (WCAG 2.1 AA):
// - a code block that scrolls sideways can be reached by keyboard (2.1.1);
// - a button drawn as an icon only has a name (4.1.2): Swagger UI's copy buttons;
// - Swagger UI's server choice, whose label is empty, its fields for trying an operation
//   out (a parameter's choice or list, the request body), and ReDoc's example and
//   content-type choices, labelled by text beside them, have a name (4.1.2);
// - the deep link Swagger UI draws inside each operation's button is a control within a
//   control (4.1.2): it loses its href, so it is text in the button; the button opens the
//   operation and the address shows the operation's deep link;
// - headings go down one level at a time (1.3.1): both UIs skip levels (Swagger UI's tags
//   are h3 under the title's h1, ReDoc's "Authorizations" h5 under an operation's h2), so
//   those say the level they stand for;
// - each open operation's responses table is a region (Swagger UI's role): regions are
//   told apart by their names (the operation's method and path);
// - a responses table's "Links" column where no response has links ("No links" in every
//   row) is left out: on a phone it pushed the table past the screen's edge (1.4.10).
(function () {
  "use strict";
  var LEVELS = [
    [".swagger-ui h3.opblock-tag", "2"],
    [".swagger-ui .models > h4", "2"],
    [".swagger-ui .opblock h4", "3"],
    [".swagger-ui .opblock h5", "4"],
    ["#redoc h5", "3"],
  ];
  function mend(root) {
    root.querySelectorAll("pre:not([tabindex])").forEach(function (pre) {
      pre.setAttribute("tabindex", "0");
    });
    root.querySelectorAll(".copy-to-clipboard button:not([aria-label])").forEach(function (b) {
      if (!b.textContent.trim()) b.setAttribute("aria-label", "Copy to clipboard");
    });
    root.querySelectorAll("button a[href]").forEach(function (a) {
      a.removeAttribute("href");
    });
    LEVELS.forEach(function (rule) {
      root.querySelectorAll(rule[0] + ":not([aria-level])").forEach(function (h) {
        h.setAttribute("aria-level", rule[1]);
      });
    });
    root
      .querySelectorAll(
        ".swagger-ui tr[data-param-name] :is(select, textarea, input):not([aria-label])"
      )
      .forEach(function (field) {
        field.setAttribute("aria-label", field.closest("tr").getAttribute("data-param-name"));
      });
    root.querySelectorAll(".swagger-ui .body-param textarea:not([aria-label])").forEach(
      function (field) {
        field.setAttribute("aria-label", "Request body");
      }
    );
    root.querySelectorAll(".swagger-ui table[role=region]:not([aria-label])").forEach(
      function (table) {
        var block = table.closest(".opblock");
        var method = block && block.querySelector(".opblock-summary-method");
        var path = block && block.querySelector(".opblock-summary-path");
        if (method && path) {
          table.setAttribute(
            "aria-label",
            "Responses of " + method.textContent + " " + path.getAttribute("data-path")
          );
        }
      }
    );
    root.querySelectorAll(".swagger-ui table.responses-table").forEach(function (table) {
      var cells = table.querySelectorAll("td.response-col_links");
      var none = Array.prototype.every.call(cells, function (cell) {
        return cell.matches(".col_header") || !cell.querySelector(":not(i)");
      });
      if (none) {
        cells.forEach(function (cell) {
          cell.hidden = true;
        });
      }
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
