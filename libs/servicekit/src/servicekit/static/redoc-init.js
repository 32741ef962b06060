// ReDoc, started from a file (the docs pages' CSP allows no inline script), with colours
// that meet WCAG 2.1 AA contrast (1.4.3) where its defaults do not, and links underlined
// (1.4.1: not told apart by colour alone).
(function () {
  "use strict";
  var me = document.currentScript;
  var container = document.getElementById("redoc");
  var theme = {
    colors: {
      text: { primary: "#333333", secondary: "#5c6370" },
      responses: {
        success: { tabTextColor: "#4fbf5a" },
        error: { tabTextColor: "#ff6b6b" },
        redirect: { tabTextColor: "#ffb84d" },
        info: { tabTextColor: "#79b8ff" },
      },
    },
    typography: {
      code: { color: "#b3261e" },
      links: { color: "#1f5fa6", visited: "#1f5fa6", hover: "#15457a", textDecoration: "underline" },
    },
  };
  Redoc.init(me.getAttribute("data-openapi-url"), { theme: theme }, container);
})();
