// Starts Swagger UI on the page /docs serves (src/garage/routes/docs.py). A file rather than an
// inline script, so the page's Content-Security-Policy can allow scripts from our origin only.
"use strict";

(() => {
  const root = document.getElementById("swagger-ui");
  // eslint-disable-next-line no-undef -- defined by swagger-ui-bundle.js, loaded just before
  window.ui = SwaggerUIBundle({
    // resolved against the page, like its other URLs: the service may sit under a path prefix
    url: new URL(root.dataset.specUrl, document.baseURI).href,
    domNode: root,
    deepLinking: true,
    displayRequestDuration: true,
    // The pasted key lives as long as the tab, as the console keeps its sign-in (ARCHITECTURE.md):
    // no admin key left behind in localStorage.
    persistAuthorization: false,
    // Swagger UI otherwise asks validator.swagger.io about the document: nothing leaves our origin.
    validatorUrl: null,
  });
})();
