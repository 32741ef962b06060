// Loaded as a file (not inline) so the docs pages work under a strict CSP.
(function () {
  var me = document.currentScript;
  window.ui = SwaggerUIBundle({
    url: me.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
