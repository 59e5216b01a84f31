/**
 * The demo page (GET /demo): one self-contained HTML file, no external requests but /recorder.js and the
 * demo's own JSON routes. It enrols by typing the phrase N times, then signs in and shows the decision,
 * the score against the threshold, and this attempt's rhythm against the template's.
 * State the browser test reads: #phase (data-phase), #result (data-decision), #last (data-* of the last
 * attempt's quality and the JSON of its sample).
 */
export const demoPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keystroke-id demo</title>
<link rel="icon" href="data:,">
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1d2433; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .phrase { font: 600 1.3rem ui-monospace, monospace; letter-spacing: .08em; background: #eef2f8; padding: .1rem .5rem; border-radius: 4px; }
  input { font: 1.2rem ui-monospace, monospace; padding: .4rem .6rem; width: 16rem; }
  .row { margin: .8rem 0; }
  .note { color: #5b6579; font-size: .9rem; }
  #result { padding: .6rem .9rem; border-radius: 6px; margin: .8rem 0; display: none; }
  #result[data-decision="accepted"] { display: block; background: #e3f6e8; border: 1px solid #6cbf84; }
  #result[data-decision="rejected"] { display: block; background: #fbe7e7; border: 1px solid #d27a7a; }
  #warn { color: #9a5b00; min-height: 1.5em; }
  svg { border: 1px solid #dde3ec; background: #fff; }
  .legend span { display: inline-block; margin-right: 1rem; font-size: .85rem; }
  .sw { display: inline-block; width: .8rem; height: .8rem; vertical-align: middle; margin-right: .3rem; }
  pre { background: #f6f8fb; padding: .5rem; font-size: .75rem; overflow-x: auto; }
</style>
</head>
<body>
<h1>keystroke-id: who is typing?</h1>
<p class="note">Your timings stay in this server's memory for the demo only. The recorder keeps key press and release times; paste, corrections and auto-repeat are flagged.</p>
<div class="row"><label>User name <input id="user" value="demo-user" autocomplete="off"></label></div>
<div id="phase" data-phase="loading" class="row">Loading…</div>
<div class="row">Type <span class="phrase" id="phrase">…</span> and press Enter:
  <br><input id="field" autocomplete="off" autocapitalize="off" spellcheck="false" aria-label="type the phrase here"></div>
<div id="warn" role="status"></div>
<div id="result" data-decision=""></div>
<div class="row legend" id="legend" hidden><span><i class="sw" style="background:#3b6fd8"></i>template (enrolment mean)</span><span><i class="sw" style="background:#e0702d"></i>this attempt</span></div>
<svg id="chart" width="640" height="200" viewBox="0 0 640 200" role="img" aria-label="rhythm chart" hidden></svg>
<details><summary class="note">Last sample sent</summary><pre id="last"></pre></details>
<script src="/recorder.js"></script>
<script>
"use strict";
(async function () {
  const $ = (id) => document.getElementById(id);
  const field = $("field"), phaseEl = $("phase"), warn = $("warn"), result = $("result"), last = $("last");
  const config = await (await fetch("/demo/config")).json();
  $("phrase").textContent = config.phrase;
  const recorder = KeystrokeRecorder.createRecorder(field, { keys: "class" });
  const enrolment = [];
  let template = null;
  let attempts = 0;
  const setPhase = (phase, text) => { phaseEl.dataset.phase = phase; phaseEl.textContent = text; };
  const enrolText = () => "Enrolment: attempt " + (enrolment.length + 1) + " of " + config.samples + ".";
  setPhase("enrol", enrolText());

  async function post(path, body) {
    const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(json.error || ("HTTP " + res.status));
    return json;
  }

  function explain(q) {
    const why = { paste: "text was pasted: only typing counts", corrected: "a correction (Backspace/Delete): type the phrase again without corrections", composition: "IME or virtual-keyboard input gives no key timings", "focus-lost": "focus left the field while a key was held", "too-few-keys": "too few keys" };
    return q.issues.map((i) => why[i] || i).join("; ");
  }

  // mean hold time of each key and press-to-press gap of each pair over samples, ms
  function rhythm(samples) {
    const n = samples[0].keystrokes.length, mean = (f) => Array.from({ length: f.len }, (_, i) => samples.reduce((a, s) => a + f.at(s.keystrokes, i), 0) / samples.length);
    return { hold: mean({ len: n, at: (k, i) => k[i].release - k[i].press }), gap: mean({ len: n - 1, at: (k, i) => k[i + 1].press - k[i].press }) };
  }

  function chart(tpl, mine) {
    const svg = $("chart");
    const series = [tpl.gap, mine.gap, tpl.hold, mine.hold];
    const max = Math.max(1, ...series.flat());
    const W = 640, H = 200, pad = 28, n = Math.max(tpl.hold.length, 2);
    const x = (i) => pad + (i * (W - 2 * pad)) / (n - 1), y = (v) => H - pad - (v / max) * (H - 2 * pad);
    const line = (vals, colour, dash, off) => '<polyline class="mark" fill="none" stroke="' + colour + '" stroke-width="2"' + (dash ? ' stroke-dasharray="5 4"' : "") + ' points="' + vals.map((v, i) => x(i + off) + "," + y(v)).join(" ") + '"/>';
    svg.innerHTML = '<text x="' + pad + '" y="16" font-size="12" fill="#5b6579">press-to-press gaps (solid) and hold times (dashed), ms; max ' + Math.round(max) + '</text>' +
      '<line x1="' + pad + '" y1="' + (H - pad) + '" x2="' + (W - pad) + '" y2="' + (H - pad) + '" stroke="#ccd"/>' +
      line(tpl.gap, "#3b6fd8", false, 0.5) + line(mine.gap, "#e0702d", false, 0.5) + line(tpl.hold, "#3b6fd8", true, 0) + line(mine.hold, "#e0702d", true, 0);
    svg.hidden = false;
    $("legend").hidden = false;
  }

  recorder.on("sample", async (e) => {
    const q = e.quality;
    last.dataset.n = String(++attempts);
    last.dataset.usable = String(q.usable);
    last.dataset.issues = q.issues.join(",");
    last.dataset.keys = String(q.keys);
    last.dataset.autoRepeats = String(q.autoRepeats);
    last.dataset.corrections = String(q.corrections);
    last.dataset.pasted = String(q.pasted);
    last.textContent = JSON.stringify(e.sample);
    field.value = "";
    recorder.reset();
    if (!e.sample) { warn.textContent = "Not sent: " + explain(q) + "."; return; }
    if (config.keys !== null && q.keys !== config.keys) { warn.textContent = "Not sent: type exactly the phrase (" + config.keys + " keys; got " + q.keys + ")."; last.dataset.issues = "wrong-length"; return; }
    warn.textContent = "";
    const user = $("user").value.trim() || "demo-user";
    try {
      if (!template) {
        enrolment.push(e.sample);
        if (enrolment.length < config.samples) { setPhase("enrol", enrolText()); return; }
        setPhase("enrolling", "Enrolling…");
        const samples = enrolment.splice(0);
        const enrolled = await post(config.enroll, { UserID: user, samples: samples });
        template = rhythm(samples);
        setPhase("verify", "Enrolled with " + enrolled.samples + " samples. Now sign in: type the phrase once more.");
        return;
      }
      const r = await post(config.verify, Object.assign({ UserID: user }, e.sample));
      result.dataset.decision = r.accepted ? "accepted" : "rejected";
      result.dataset.score = String(r.anomaly_score);
      result.dataset.threshold = String(r.threshold);
      result.textContent = (r.accepted ? "Accepted" : "Rejected") + ": score " + r.anomaly_score.toFixed(3) + (r.anomaly_score <= r.threshold ? " ≤ " : " > ") + "threshold " + r.threshold.toFixed(3) +
        (r.reason ? " (" + r.reason + ")" : "") + ".";
      chart(template, rhythm([e.sample]));
      setPhase("verify", "Try again, or let someone else type it.");
    } catch (err) {
      warn.textContent = "Error: " + err.message;
      if (!template) { enrolment.length = 0; setPhase("enrol", enrolText()); }
    }
  });
  field.focus();
})();
</script>
</body>
</html>
`;
