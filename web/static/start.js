// start.js: the page starts (see app.js for the parts of the script).

// Anything the Content-Security-Policy blocks is a bug of this page: say so where a test (or
// a curious user) can see it.
document.addEventListener('securitypolicyviolation', (ev) => {
  const b = document.body;
  b.dataset.cspViolations = (b.dataset.cspViolations || '') + ev.violatedDirective + ' ' + ev.blockedURI + ' at ' + ev.sourceFile + ':' + ev.lineNumber + ':' + ev.columnNumber + ' ' + ev.sample + '; ';
  console.error('blocked by the page\'s policy:', ev.violatedDirective, ev.blockedURI);
});

$('views').addEventListener('change', (ev) => switchView(ev.target.value));
setUpPicture();
connect();
