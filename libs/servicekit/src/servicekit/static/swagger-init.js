// Loaded as a file (not inline) so the docs pages work under a strict CSP.
(function () {
  var me = document.currentScript;
  window.ui = SwaggerUIBundle({
    url: me.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    // Deep links (#/tag/operationId) open an operation; docs-a11y.js turns the link Swagger
    // UI draws inside each operation's button into text (a control within a control).
    deepLinking: true,
    // Examples as plain text: the highlighter's colours on its dark background fall short of
    // 4.5:1 contrast, and they are set inline, out of reach of a stylesheet.
    syntaxHighlight: { activated: false },
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
