// The portal's Swagger UI (a file, not inline: the docs pages run under a strict CSP).
// Log-in with the authorization code flow and PKCE as the portal's public client; the
// identity service requires a nonce, so each page load makes a fresh random one.
(function () {
  "use strict";
  var me = document.currentScript;
  var bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  var nonce = Array.prototype.map
    .call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    })
    .join("");
  window.ui = SwaggerUIBundle({
    url: me.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect",
    persistAuthorization: true,
    // Accessibility: why these two are set so, see servicekit's swagger-init.js.
    deepLinking: true,
    syntaxHighlight: { activated: false },
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
  window.ui.initOAuth({
    clientId: me.getAttribute("data-client-id"),
    appName: "Samen API portal",
    scopes: ["openid"],
    usePkceWithAuthorizationCodeGrant: true,
    additionalQueryStringParams: { nonce: nonce },
  });
})();
