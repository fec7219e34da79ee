// The console's behaviour: filters, live log tails, metric charts (GetMetricData's shape),
// the tuning plots, the test request and the actions. No inline script: the pages pass URLs
// in data-* attributes (the Content Security Policy allows scripts from this origin only).
"use strict";

const HEADER = {"X-Emulator-Console": "1"};
const ENDED = ["Completed", "Failed", "Stopped"];

async function getJSON(url) {
  const response = await fetch(url, {headers: {"Accept": "application/json"}});
  const body = await response.json();
  if (!response.ok) throw new Error((body.__type || response.status) + ": " + (body.message || ""));
  return body;
}

async function post(url, payload) {
  const response = await fetch(url, {
    method: "POST",
    headers: {...HEADER, "Content-Type": "application/json"},
    body: JSON.stringify(payload || {}),
    credentials: "same-origin",
  });
  const body = await response.json();
  return {ok: response.ok, status: response.status, body};
}

function wireFilters() {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const rows = () => document.querySelectorAll(input.dataset.filter + " tbody tr");
    input.addEventListener("input", () => {
      const wanted = input.value.toLowerCase();
      for (const row of rows()) {
        row.hidden = !(row.dataset.name || "").toLowerCase().includes(wanted);
      }
    });
  }
}

function wireActions() {
  for (const button of document.querySelectorAll("button.action")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(button.dataset.confirm)) return;
      const out = button.parentElement.querySelector(".action-result");
      const answer = await post(button.dataset.url);
      out.textContent = answer.ok ? answer.body.operation + ": done" : answer.body.message;
      out.className = "action-result " + (answer.ok ? "ok" : "error");
    });
  }
}

function appendLines(pre, lines) {
  if (!lines.length) return;
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(document.createTextNode(lines.join("\n") + "\n"));
  pre.dataset.lines = String(Number(pre.dataset.lines || 0) + lines.length);
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function tailTrainingLog(pre) {
  let cursor = {};
  const poll = async () => {
    let delay = 1000;
    try {
      const answer = await getJSON(pre.dataset.tail + "&cursor=" + encodeURIComponent(JSON.stringify(cursor)));
      cursor = answer.cursor;
      appendLines(pre, answer.events.map((e) => e.message));
      if (answer.more) delay = 0;
      else if (ENDED.includes(answer.TrainingJobStatus)) {
        pre.dataset.ended = answer.TrainingJobStatus;
        return;  // every line is in: the job writes no more
      }
    } catch (e) {
      pre.dataset.error = String(e);
      delay = 5000;
    }
    setTimeout(poll, delay);
  };
  poll();
}

function tailStream(pre) {
  let next = 0;
  const poll = async () => {
    try {
      const answer = await getJSON(pre.dataset.events + "&start=" + next);
      next = answer.next;
      appendLines(pre, answer.events.map((e) => new Date(e.timestamp).toISOString() + " " + e.message));
    } catch (e) {
      pre.dataset.error = String(e);
    }
    setTimeout(poll, 2000);
  };
  poll();
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

function timeTick(value) {
  return new Date(value).toISOString().substring(11, 19);
}

// `answer`: {StartTime, EndTime, Period, MetricDataResults: [{Id, Label, Timestamps, Values}]}
function metricDatasets(answer) {
  return answer.MetricDataResults.map((result, i) => ({
    label: result.Label,
    data: result.Timestamps.map((t, j) => ({x: t * 1000, y: result.Values[j]})),
    borderColor: COLORS[i % COLORS.length],
    backgroundColor: COLORS[i % COLORS.length],
    yAxisID: i === 0 ? "y" : "y" + i,
    pointRadius: 2,
    tension: 0,
  }));
}

function drawMetrics(canvas) {
  const note = document.getElementById("metrics-note");
  let chart = null;
  const refresh = async () => {
    try {
      const answer = await getJSON(canvas.dataset.metrics);
      const datasets = metricDatasets(answer);
      const points = datasets.reduce((n, d) => n + d.data.length, 0);
      canvas.dataset.series = String(datasets.length);
      canvas.dataset.points = String(points);
      note.textContent = datasets.length ? "" : "No metrics published to CloudWatch for this yet.";
      const scales = {x: {type: "linear", ticks: {callback: timeTick}}};
      datasets.forEach((d, i) => {
        scales[d.yAxisID] = {type: "linear", position: i % 2 ? "right" : "left", display: i < 2,
          title: {display: i < 2, text: d.label}};
      });
      if (chart) chart.destroy();
      chart = new Chart(canvas, {type: "line", data: {datasets},
        options: {animation: false, responsive: true, maintainAspectRatio: false, parsing: false, scales}});
    } catch (e) {
      note.textContent = String(e);
    }
    if (canvas.dataset.live === "yes") setTimeout(refresh, 5000);
  };
  refresh();
}

function asNumber(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

async function drawTuning(section) {
  const answer = await getJSON(section.dataset.children);
  const region = encodeURIComponent(section.dataset.region);
  const link = (name) => section.dataset.jobBase + encodeURIComponent(name) + "?region=" + region;
  const best = document.getElementById("best");
  best.textContent = answer.BestTrainingJob || "none yet";
  if (answer.BestTrainingJob) best.href = link(answer.BestTrainingJob);
  const table = document.getElementById("children");
  const head = ["Training job", "Status", ...answer.TunedParameters, answer.Objective.MetricName || "objective"];
  table.tHead.innerHTML = "";
  const headRow = table.tHead.insertRow();
  for (const title of head) headRow.appendChild(document.createElement("th")).textContent = title;
  table.tBodies[0].innerHTML = "";
  for (const child of answer.Children) {
    const row = table.tBodies[0].insertRow();
    if (child.Best) row.className = "best";
    const a = document.createElement("a");
    a.href = link(child.TrainingJobName);
    a.textContent = child.TrainingJobName;
    row.insertCell().appendChild(a);
    row.insertCell().textContent = child.TrainingJobStatus;
    for (const p of answer.TunedParameters) row.insertCell().textContent = child.TunedHyperParameters[p] ?? "";
    row.insertCell().textContent = child.ObjectiveValue ?? "";
  }
  section.dataset.children_count = String(answer.Children.length);
  const plots = document.getElementById("tuning-plots");
  plots.innerHTML = "";
  for (const p of answer.TunedParameters) {
    const box = plots.appendChild(document.createElement("div"));
    box.className = "chart small";
    const canvas = box.appendChild(document.createElement("canvas"));
    canvas.dataset.parameter = p;
    const categories = [];
    const point = (child) => {
      const raw = child.TunedHyperParameters[p];
      let x = asNumber(raw);
      if (x === null) {
        if (!categories.includes(raw)) categories.push(raw);
        x = categories.indexOf(raw);
      }
      return {x, y: child.ObjectiveValue, job: child.TrainingJobName};
    };
    const scored = answer.Children.filter((c) => c.ObjectiveValue !== null && c.ObjectiveValue !== undefined);
    const data = scored.map(point);
    canvas.dataset.points = String(data.length);
    new Chart(canvas, {type: "scatter", data: {datasets: [{label: answer.Objective.MetricName + " vs " + p,
      data, pointRadius: scored.map((c) => (c.Best ? 7 : 4)),
      backgroundColor: scored.map((c) => (c.Best ? "#d62728" : "#1f77b4"))}]},
      options: {animation: false, responsive: true, maintainAspectRatio: false,
        scales: {x: {title: {display: true, text: p},
          ticks: categories.length ? {callback: (v) => categories[v] ?? ""} : {}},
          y: {title: {display: true, text: answer.Objective.MetricName}}}}});
  }
}

function wireInvoke(form) {
  const out = document.getElementById("invoke-result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    out.textContent = "…";
    const answer = await post(form.dataset.url, {
      Body: data.get("Body"), ContentType: data.get("ContentType"), Accept: data.get("Accept")});
    out.dataset.status = String(answer.status);
    out.textContent = answer.ok
      ? answer.body.InvokedProductionVariant + " · " + answer.body.ContentType + "\n" + answer.body.Body
      : answer.body.__type + ": " + answer.body.message;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireFilters();
  wireActions();
  const log = document.getElementById("log");
  if (log && log.dataset.tail) tailTrainingLog(log);
  if (log && log.dataset.events) tailStream(log);
  const metrics = document.getElementById("metrics");
  if (metrics) drawMetrics(metrics);
  const tuning = document.getElementById("tuning");
  if (tuning) drawTuning(tuning).catch((e) => { tuning.dataset.error = String(e); });
  const invoke = document.getElementById("invoke");
  if (invoke) wireInvoke(invoke);
});
