"""The console's HTML (Jinja2, autoescaped). Outside text goes through the `u` filter
(shared.untrusted.for_html: redacted and escaped); everything else is escaped by autoescape.
No scripts, no external resources: the CSS is inline and the charts are inline SVG."""

from __future__ import annotations

CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb;--card:#fff;--red:#dc2626;
--amber:#d97706;--green:#16a34a;--blue:#2563eb}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;padding:.6rem 1rem;
background:#111827;color:#fff}header a{color:#fff;text-decoration:none}
.brand{font-weight:700}nav a{margin-right:1rem;opacity:.85}nav a:hover{opacity:1}
main{max-width:980px;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.2rem 0 .6rem;overflow-wrap:anywhere}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.7rem .9rem;
margin:.5rem 0}
a.card{display:block;color:inherit;text-decoration:none}a.card:hover{border-color:var(--blue)}
.row{display:flex;flex-wrap:wrap;gap:.3rem .8rem;align-items:baseline}
.muted{color:var(--muted);font-size:.88rem}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.78rem;
border:1px solid var(--line);background:#f3f4f6;white-space:nowrap}
.open,.error,.refused,.firing,.critical{background:#fee2e2;border-color:#fecaca;color:#991b1b}
.resolved,.ok,.applied,.approved,.useful{background:#dcfce7;border-color:#bbf7d0;color:#166534}
.warning,.proposed,.dry_run,.unknown,.noise{background:#fef3c7;border-color:#fde68a;color:#92400e}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted)}
select,input{font:inherit;padding:.3rem .4rem;border:1px solid #d1d5db;border-radius:6px;
background:#fff;min-width:7rem}button{font:inherit;padding:.35rem .9rem;border-radius:6px;
border:1px solid var(--blue);background:var(--blue);color:#fff}
.pager{display:flex;justify-content:space-between;margin:1rem 0}
ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid var(--line)}
ol.timeline li{position:relative;margin:0 0 .6rem .9rem}
ol.timeline li::before{content:"";position:absolute;left:-1.28rem;top:.9rem;width:.6rem;
height:.6rem;border-radius:50%;background:var(--muted)}
ol.timeline li.k-change::before,ol.timeline li.k-refusal::before{background:var(--red)}
ol.timeline li.k-resolve::before{background:var(--green)}
ol.timeline li.k-stage::before{background:var(--blue)}
ol.timeline li.k-human::before,ol.timeline li.k-decision::before{background:var(--amber)}
.detail{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3rem 0 0;font-size:.9rem}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
pre.cmd{background:#111827;color:#f9fafb;padding:.45rem .6rem;border-radius:6px;
white-space:pre-wrap;margin:.3rem 0}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);
vertical-align:top;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
.links a{margin-right:1rem}
figure{margin:.6rem 0 1.2rem;background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:.5rem}figcaption{font-weight:600;font-size:.92rem}
svg.chart{display:block;height:auto}svg .grid{stroke:#e5e7eb}svg .axis{font-size:13px;fill:#6b7280}
svg .target{stroke:#dc2626;stroke-dasharray:5 4;stroke-width:1.5}
svg .target-label{font-size:13px;fill:#dc2626}
.legend{font-size:.8rem;color:var(--muted)}.key{margin-right:.9rem}
.key i{display:inline-block;width:.7rem;height:.7rem;margin-right:.25rem;vertical-align:-1px}
.tabs a{margin-right:.4rem}.tabs a.on{background:#dbeafe;border-color:#93c5fd}
.warn{color:#92400e}
@media (max-width:600px){main{padding:.6rem}th,td{padding:.2rem .25rem}}
"""

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{% block title %}{% endblock %} · alertloop</title>
<style>{{ css }}</style></head>
<body><header><a class="brand" href="/">alertloop</a>
<nav><a href="/">Incidents</a><a href="/health">Loop health</a></nav></header>
<main>{% block main %}{% endblock %}</main></body></html>
"""

INCIDENTS = """{% extends "base" %}
{% block title %}Incidents{% endblock %}
{% block main %}
<h1>Incidents</h1>
<form class="filters" method="get" action="/">
  <label>State<select name="state">
    {% for v, label in [("", "any"), ("open", "open"), ("resolved", "resolved")] %}
    <option value="{{ v }}"{% if flt.status == v %} selected{% endif %}>{{ label }}</option>
    {% endfor %}</select></label>
  <label>Alert type<select name="alert_type"><option value="">any</option>
    {% for t in alert_types %}
    <option value="{{ t }}"{% if flt.alert_type == t %} selected{% endif %}>{{ t|u(80) }}</option>
    {% endfor %}</select></label>
  <label>Cluster<input name="cluster" value="{{ flt.cluster }}" size="10"></label>
  <label>Namespace<input name="namespace" value="{{ flt.namespace }}" size="10"></label>
  <label>Opened<select name="since">
    {% for v, label in since_choices %}
    <option value="{{ v }}"{% if since == v %} selected{% endif %}>{{ label }}</option>
    {% endfor %}</select></label>
  <button type="submit">Filter</button>
</form>
{% if problem %}<p class="card warn">{{ problem }}</p>{% endif %}
{% for inc in incidents %}
<a class="card" href="/incidents/{{ inc.incident_id }}">
  <div class="row">
    <span class="badge {{ inc.status }}">{{ inc.status }}</span>
    <strong>{{ inc.title|u(200) }}</strong>
    {% if inc.severity %}<span class="badge {{ inc.severity|css }}">{{ inc.severity|u(20) }}</span>{% endif %}
    {% if inc.acknowledged %}<span class="badge">acknowledged</span>{% endif %}
    {% if inc.hands_off %}<span class="badge warning">taken over</span>{% endif %}
    {% if inc.verdict and inc.verdict.value %}<span class="badge {{ inc.verdict.value|css }}">{{ inc.verdict.value|u(20) }}</span>{% endif %}
    {% if inc.flaps %}<span class="badge warning">flapping x{{ inc.flaps }}</span>{% endif %}
  </div>
  <div class="row muted">
    <span>{{ inc.alert_type|u(80) }}</span>
    {% if inc.cluster %}<span>cluster {{ inc.cluster|u(80) }}</span>{% endif %}
    {% if inc.namespace %}<span>ns {{ inc.namespace|u(80) }}</span>{% endif %}
    <span>opened {{ inc.opened_at|when }}</span>
    <span>{{ (inc.run_order or [])|length }} run{{ "" if (inc.run_order or [])|length == 1 else "s" }}</span>
    {% if inc.status == "resolved" and inc.duration_s is not none %}<span>resolved after {{ inc.duration_s|dur }}</span>{% endif %}
  </div>
</a>
{% else %}
<p class="card muted">No incidents match.</p>
{% endfor %}
<div class="pager">
  {% if cursor %}<a href="{{ newest_url }}">← Newest</a>{% else %}<span></span>{% endif %}
  {% if next_url %}<a href="{{ next_url }}">Older →</a>{% endif %}
</div>
{% endblock %}
"""

INCIDENT = """{% extends "base" %}
{% block title %}{{ inc.title|u(80) }}{% endblock %}
{% block main %}
<h1>{{ inc.title|u(300) }}</h1>
<div class="row">
  <span class="badge {{ inc.status }}">{{ inc.status }}</span>
  {% if inc.severity %}<span class="badge {{ inc.severity|css }}">{{ inc.severity|u(20) }}</span>{% endif %}
  <span class="muted">{{ inc.alert_type|u(80) }}</span>
  {% if inc.cluster %}<span class="muted">cluster {{ inc.cluster|u(80) }}</span>{% endif %}
  {% if inc.namespace %}<span class="muted">namespace {{ inc.namespace|u(80) }}</span>{% endif %}
</div>
<div class="card">
  <div class="row"><span class="muted">alert started</span> {{ tl.started|when }}</div>
  {% if tl.resolved %}<div class="row"><span class="muted">resolved</span> {{ tl.resolved|when }}
    <span class="badge resolved">MTTR {{ tl.mttr_s|dur }}</span></div>{% endif %}
  <div class="links">
    {% if slack_url %}<a href="{{ slack_url }}" rel="noopener noreferrer">Slack thread</a>{% endif %}
    {% if runbook_url %}<a href="{{ runbook_url }}" rel="noopener noreferrer">Runbook</a>{% endif %}
    {% if source_url %}<a href="{{ source_url }}" rel="noopener noreferrer">Alert source</a>{% endif %}
  </div>
  {% if runbook_text %}<div class="muted">runbook (not a web link): {{ runbook_text|u(300) }}</div>{% endif %}
  {% if source_text %}<div class="muted">alert source (not a web link): {{ source_text|u(300) }}</div>{% endif %}
</div>
<h2>Replay</h2>
{% for cmd in commands %}<pre class="cmd">{{ cmd }}</pre>{% endfor %}
<h2>Runs</h2>
<div class="scroll"><table>
<tr><th>run</th><th>alert</th><th>state</th><th>received</th><th>MTTR</th></tr>
{% for r in runs %}
<tr><td><code>{{ r.run_id|u(40) }}</code></td><td>{{ r.alert_name|u(120) }}</td>
<td><span class="badge {{ r.state|css }}">{{ r.state|u(20) }}</span></td>
<td>{{ r.received_at|when }}</td><td>{{ r.mttr_seconds|dur }}</td></tr>
{% endfor %}
</table></div>
{% if truncated %}<p class="muted">{{ truncated }} more runs are not shown.</p>{% endif %}
<h2>Timeline</h2>
<ol class="timeline">
{% for e in tl.events %}
<li class="card k-{{ e.kind }}">
  <div class="row">
    <span class="muted">{{ e.at|when }}</span>
    <strong>{{ e.title|u(200) }}</strong>
    {% if e.status %}<span class="badge {{ e.status|css }}">{{ e.status|u(30) }}</span>{% endif %}
    {% if e.duration_s is not none %}<span class="badge">{{ e.duration_s|dur }}</span>{% endif %}
  </div>
  {% if e.subject %}<div><code>{{ e.subject|u(300) }}</code></div>{% endif %}
  {% if e.finished %}<div class="muted">finished {{ e.finished|when }}</div>{% endif %}
  {% if e.actor %}<div class="muted">by {{ e.actor|u(200) }}</div>{% endif %}
  {% if e.detail %}<p class="detail">{{ e.detail|u(4000) }}</p>{% endif %}
  {% if e.changes %}<div class="scroll"><table>
    <tr><th>field</th><th>before</th><th>after</th></tr>
    {% for field, before, after in e.changes %}
    <tr><td><code>{{ field|u(200) }}</code></td><td><code>{{ before|u(500) }}</code></td>
    <td><code>{{ after|u(500) }}</code></td></tr>
    {% endfor %}</table></div>{% endif %}
  {% if e.command %}<pre class="cmd">{{ e.command|u(500) }}</pre>{% endif %}
  {% if e.run_id and multi %}<div class="muted">run <code>{{ e.run_id|u(40) }}</code></div>{% endif %}
</li>
{% endfor %}
</ol>
{% endblock %}
"""

HEALTH = """{% extends "base" %}
{% block title %}Loop health{% endblock %}
{% block main %}
<h1>Loop health — last {{ days }} days</h1>
<p class="tabs">
{% for name in names %}
<a class="badge{% if name == selected %} on{% endif %}" href="/health?alert_type={{ name|urlencode }}">{{ name|u(80) }}</a>
{% endfor %}
</p>
{% if report.warnings %}<div class="card warn">{% for w in report.warnings %}<div>⚠ {{ w|u(300) }}</div>{% endfor %}</div>{% endif %}
{{ charts }}
<h2>By alert type</h2>
<div class="scroll"><table>
<tr><th>alert type</th><th>runs</th><th>/day</th><th>executed</th><th>inv. p50</th><th>inv. p95</th>
<th>MTTR</th><th>false +</th><th>team</th></tr>
{% for name, m in rows %}
<tr><td>{{ name|u(80) }}</td><td>{{ m.runs }}</td><td>{{ m.alerts_per_day|num }}</td>
<td>{{ m.execution_rate|pct }}</td><td>{{ m.investigation_p50_s|dur }}</td>
<td>{{ m.investigation_p95_s|dur }}</td><td>{{ m.mttr_mean_s|dur }}</td>
<td>{{ m.false_positive_rate|pct }}</td><td>{{ m.team_action_rate|pct }}</td></tr>
{% endfor %}
</table></div>
{% if autonomy %}<h2>Autonomy per action</h2>
<div class="scroll"><table>
<tr><th>alert type</th><th>action</th><th>workload</th><th>class</th><th>mode</th><th>streak</th>
<th>fixed</th><th>not fixed</th><th>relapsed</th><th>cleared anyway</th></tr>
{% for a in autonomy %}
<tr><td>{{ a.alert_type|u(80) }}</td><td>{{ a.action|u(40) }}</td><td>{{ a.workload|u(120) }}</td>
<td>{{ a.workload_class|u(20) }}</td><td>{{ a.state.mode|u(10) }}</td><td>{{ a.state.streak }}</td>
<td>{{ a.state.fixed }}</td><td>{{ a.state.not_fixed }}</td><td>{{ a.state.relapsed }}</td>
<td>{{ a.state.cleared_anyway }}</td></tr>
{% endfor %}
</table></div>{% endif %}
<p class="muted">Targets: every alert executed; investigation &lt; 5 min; MTTR trending down;
false positives ≤ 10% (else tune the alert: <code>alertloop tune</code>); team action &lt; 20%.
Read from the ledger at {{ taken_at|when }} ({{ "%.2f"|format(read_s) }} s).</p>
{% endblock %}
"""

MESSAGE = """{% extends "base" %}
{% block title %}{{ heading }}{% endblock %}
{% block main %}<h1>{{ heading }}</h1><p class="card">{{ message }}</p>{% endblock %}
"""

TEMPLATES = {
    "base": BASE,
    "incidents": INCIDENTS,
    "incident": INCIDENT,
    "health": HEALTH,
    "message": MESSAGE,
}
