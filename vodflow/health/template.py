"""The page's Jinja2 template: headline tiles, then one section per topic, with inline CSS and no external URL.

Kept as a Python string (not a package data file) so it travels with the code in every install. The template
only lays out what :mod:`vodflow.health.render` prepared (tables of display strings, plots as ``data:`` URIs).
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data Health Check — {{ as_of }}</title>
<style>
  body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #222; margin: 0;
         background: #f6f7f9; }
  header { background: #1d3557; color: #fff; padding: 1.2em 2em; }
  header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
  header p { margin: 0; opacity: .85; }
  main { max-width: 1100px; margin: 0 auto; padding: 1em 2em 3em; }
  nav { margin: 1em 0; font-size: .9em; }
  nav a { margin-right: 1em; color: #1d3557; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: .8em; margin: 1em 0; }
  .tile { background: #fff; border-radius: 6px; padding: .8em 1em; box-shadow: 0 1px 2px rgba(0,0,0,.1); }
  .tile .label { font-size: .8em; color: #555; text-transform: uppercase; letter-spacing: .03em; }
  .tile .value { font-size: 1.5em; font-weight: bold; margin-top: .2em; }
  section { background: #fff; border-radius: 6px; padding: 1em 1.5em; margin: 1.2em 0;
            box-shadow: 0 1px 2px rgba(0,0,0,.1); }
  section h2 { margin-top: .2em; color: #1d3557; }
  section h3 { font-size: 1em; margin-bottom: .3em; }
  p.intro { color: #444; margin-top: 0; }
  table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; font-size: .9em; }
  th, td { border-bottom: 1px solid #e3e3e3; padding: .35em .6em; text-align: left; vertical-align: top; }
  th { background: #f0f2f5; }
  td.gap { color: #888; font-style: italic; }
  .unavailable { background: #fff8e1; border-left: 4px solid #f0ad4e; padding: .6em 1em; }
  .note { color: #555; font-size: .85em; }
  ul.recs li { margin: .35em 0; }
  .sev { display: inline-block; min-width: 4.5em; font-size: .75em; font-weight: bold; text-transform: uppercase;
         padding: .1em .4em; border-radius: 3px; color: #fff; text-align: center; margin-right: .5em; }
  .sev-high { background: #c0392b; } .sev-medium { background: #e67e22; } .sev-low { background: #7f8c8d; }
  .status-ok { color: #2e7d32; font-weight: bold; } .status-warn { color: #e67e22; font-weight: bold; }
  .status-error { color: #c0392b; font-weight: bold; }
  figure { margin: .5em 0 1em; } figure img { max-width: 100%; } figcaption { font-size: .85em; color: #555; }
  footer { color: #777; font-size: .8em; text-align: center; padding: 2em; }
</style>
</head>
<body>
<header>
  <h1>Data Health Check</h1>
  <p>as of {{ as_of }} (UTC) · window {{ first_day }} – {{ as_of }} ({{ days }} days) · generated {{ generated }}</p>
</header>
<main>
<nav>{% for block in blocks %}<a href="#{{ block.anchor }}">{{ block.title }}</a>{% endfor %}</nav>
<div class="tiles" id="headline">
{% for label, value in headline.items() %}
  <div class="tile"><div class="label">{{ label }}</div><div class="value">{{ value }}</div></div>
{% endfor %}
</div>
{% for block in blocks %}
<section id="{{ block.anchor }}">
  <h2>{{ block.title }}</h2>
  {% if block.intro %}<p class="intro">{{ block.intro }}</p>{% endif %}
  {% if block.unavailable %}<p class="unavailable">{{ block.unavailable }}</p>{% endif %}
  {% if block.items is not none %}
    {% if block.items %}
    <ul class="recs">
    {% for item in block.items %}
      <li><span class="sev sev-{{ item.severity }}">{{ item.severity }}</span>{{ item.text }}</li>
    {% endfor %}
    </ul>
    {% else %}<p>Nothing to recommend: every figure is within its threshold.</p>{% endif %}
  {% endif %}
  {% for table in block.tables %}
    {% if table.title %}<h3>{{ table.title }}</h3>{% endif %}
    {% if table.rows %}
    <table>
      <thead><tr>{% for column in table.columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
      <tbody>
      {% for row in table.rows %}
        <tr>{% for cell in row %}<td{% if cell in gaps %} class="gap"
          {%- elif cell in statuses %} class="status-{{ cell }}"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
      {% endfor %}
      </tbody>
    </table>
    {% else %}<p class="gap">{{ table.empty }}</p>{% endif %}
  {% endfor %}
  {% for plot in block.plots %}
    <figure>
      {% if plot.uri %}<img src="{{ plot.uri }}" alt="{{ plot.caption }}">
      {% else %}<p class="gap">no data to plot</p>{% endif %}
      <figcaption>{{ plot.caption }}</figcaption>
    </figure>
  {% endfor %}
  {% for note in block.notes %}<p class="note">{{ note }}</p>{% endfor %}
</section>
{% endfor %}
</main>
<footer>vodflow Data Health Check · how each figure is computed: docs/health-report.md in the repository</footer>
</body>
</html>
"""
