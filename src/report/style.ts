/** Inline stylesheet of the report: light background, dark text, one accent palette. */
export const REPORT_CSS = `
:root{--ink:#1d2433;--muted:#5b6475;--line:#e3e7ee;--bg:#f6f7f9;--card:#fff;--accent:#3b6fb6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Inter,Lato,"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
main{max-width:1180px;margin:0 auto;padding:40px 32px 56px}
header{margin-bottom:24px}
.kicker{margin:0;color:var(--accent);font-weight:600;letter-spacing:.08em;text-transform:uppercase;font-size:12px}
h1{margin:4px 0 6px;font-size:30px;line-height:1.2;font-weight:700;letter-spacing:-.01em}
h2{margin:40px 0 4px;font-size:21px;font-weight:650}
h3{margin:0;font-size:15px;font-weight:650}
.meta,.lede{color:var(--muted);margin:0 0 16px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:14px;margin:8px 0 8px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 18px;display:flex;flex-direction:column}
.tile .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.tile .v{font-size:30px;font-weight:700;font-variant-numeric:tabular-nums;line-height:1.25}
.tile .s{color:var(--muted);font-size:13px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px 12px;margin:0 0 18px}
.card figcaption p{margin:2px 0 8px;color:var(--muted);font-size:13px}
.grid.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:18px}
.grid.two .card{margin:0}
.grid.two{margin-bottom:18px}
svg.chart{display:block;width:100%;height:auto;max-height:640px;font-family:inherit}
svg .tick{font-size:11px;fill:var(--muted);font-variant-numeric:tabular-nums}
svg .axis-title{font-size:12px;fill:var(--ink);font-weight:500}
svg .group-label{font-size:13px;font-weight:650;fill:var(--ink)}
svg .value{font-size:11.5px;font-weight:600;fill:var(--ink);font-variant-numeric:tabular-nums}
svg .grid{stroke:#edf0f4;stroke-width:1}
svg .domain{stroke:#9aa3b2;stroke-width:1}
svg .frame{fill:none;stroke:#c9cfd9;stroke-width:1}
svg .plot-bg{fill:#fafbfc}
svg .guide{stroke:#9aa3b2;stroke-dasharray:3 4;stroke-width:1}
svg .guide-label{font-size:11px;fill:#8a93a3}
svg .whisker{stroke:var(--ink);stroke-width:1.4;fill:none}
svg .line{fill:none;stroke-width:2.2;stroke-linejoin:round;stroke-linecap:round}
svg .marker{stroke:#fff;stroke-width:2}
svg .mark:hover{opacity:.8}
svg .line:hover{stroke-width:3.4;opacity:1}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:0 0 6px;font-size:12.5px;color:var(--muted)}
.legend .key{display:inline-flex;align-items:center;gap:6px}
.legend i{display:inline-block;width:14px;height:10px;border-radius:2px;background:var(--c)}
.legend i.dash{height:0;border-top:2.5px dashed var(--c);background:none;width:18px;border-radius:0}
table.metrics{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden;margin:0 0 18px;font-variant-numeric:tabular-nums;font-size:14px}
table.metrics.narrow{max-width:780px}
table.metrics th,table.metrics td{padding:8px 12px;text-align:right;border-bottom:1px solid var(--line)}
table.metrics thead th{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600;background:#fafbfc}
table.metrics th[scope=row],table.metrics thead th:first-child,table.metrics td.worst,table.metrics thead th:last-child{text-align:left}
table.metrics tr:last-child td,table.metrics tr:last-child th{border-bottom:0}
table.metrics tr.best th{color:var(--accent)}
.fs{color:var(--muted);font-weight:400;font-size:13px}
small{color:var(--muted)}
.warn{color:#c2410c;font-weight:600}
.note{color:var(--muted);font-size:13px;margin:-8px 0 18px}
details{margin:8px 0 18px}
summary{cursor:pointer;color:var(--accent);font-weight:600;margin-bottom:12px}
footer{margin-top:40px;color:var(--muted);font-size:12px}
#tip{position:fixed;pointer-events:none;background:#1d2433;color:#fff;font-size:12.5px;padding:6px 9px;border-radius:6px;box-shadow:0 4px 14px rgba(0,0,0,.18);max-width:320px;z-index:10}
@media print{body{background:#fff}.card,.tile,table.metrics{break-inside:avoid}}
`;

/** Inline script of the report: one tooltip that follows the pointer over any element with data-tip. */
export const REPORT_SCRIPT = `
(function(){
  var tip = document.getElementById("tip");
  document.addEventListener("mousemove", function(ev){
    var t = ev.target && ev.target.closest ? ev.target.closest("[data-tip]") : null;
    if (!t) { tip.hidden = true; return; }
    tip.textContent = t.getAttribute("data-tip");
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
    if (y + h > window.innerHeight - 8) y = ev.clientY - h - 14;
    tip.style.left = x + "px"; tip.style.top = y + "px";
  });
})();
`;
