// launch.html: forward only `iss` and `launch` to /launch (same origin, so it cannot become an open redirect).
// Plain ES5 without URLSearchParams, for older embedded EHR browsers.
(function () {
  var forward = [];
  var pairs = window.location.search.replace(/^\?/, "").split("&");
  for (var i = 0; i < pairs.length; i++) {
    var name = pairs[i].split("=")[0];
    if (name === "iss" || name === "launch") { forward.push(pairs[i]); }
  }
  window.location.replace("/launch" + (forward.length ? "?" + forward.join("&") : ""));
})();
