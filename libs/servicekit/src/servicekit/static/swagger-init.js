// Loaded as a file (not inline) so the docs pages work under a strict CSP.
(function () {
  var me = document.currentScript;
  window.ui = SwaggerUIBundle({
    url: me.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    // No deep links: Swagger UI puts each one inside the operation's button, a control
    // within a control that screen readers and keyboards cannot use (WCAG 4.1.2).
    deepLinking: false,
    // Examples as plain text: the highlighter's colours on its dark background fall short of
    // 4.5:1 contrast, and they are set inline, out of reach of a stylesheet.
    syntaxHighlight: { activated: false },
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
