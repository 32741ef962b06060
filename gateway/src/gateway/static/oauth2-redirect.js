// The end of the portal's log-in: the identity service sends the browser here with the
// authorization code; hand it to the Swagger UI window that opened this one (which
// redeems it with its PKCE verifier). A file, not inline, for the strict CSP. Unlike
// Swagger UI's own redirect page, a code whose state does not match is not used.
(function () {
  "use strict";
  var oauth2 = window.opener && window.opener.swaggerUIRedirectOauth2;
  var status = document.getElementById("status");
  if (!oauth2) {
    status.textContent = "This page finishes a log-in started from the API portal.";
    return;
  }
  var raw = /code|token|error/.test(window.location.hash)
    ? window.location.hash.substring(1).replace("?", "&")
    : window.location.search.substring(1);
  var params = new URLSearchParams(raw);
  var flow = oauth2.auth.schema.get("flow");
  var stateOk = params.get("state") === oauth2.state;
  if (flow === "accessCode" || flow === "authorizationCode" || flow === "authorization_code") {
    if (!stateOk) {
      oauth2.errCb({
        authId: oauth2.auth.name,
        source: "auth",
        level: "error",
        message: "[Authorization failed]: the returned state does not match; the code was not used.",
      });
    } else if (params.get("code")) {
      delete oauth2.state;
      oauth2.auth.code = params.get("code");
      oauth2.callback({ auth: oauth2.auth, redirectUrl: oauth2.redirectUrl });
    } else {
      oauth2.errCb({
        authId: oauth2.auth.name,
        source: "auth",
        level: "error",
        message:
          "[" + (params.get("error") || "Authorization failed") + "]: " +
          (params.get("error_description") || "no authorization code was received"),
      });
    }
  } else {
    var token = {};
    params.forEach(function (value, key) {
      token[key] = value;
    });
    oauth2.callback({ auth: oauth2.auth, token: token, isValid: stateOk, redirectUrl: oauth2.redirectUrl });
  }
  window.close();
})();
