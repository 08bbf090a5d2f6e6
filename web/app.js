// The live denoising page. Plain JavaScript, no build step, and only the server's public API:
// GET /v1/models and /v1/strategies to build the form, POST /v1/completions with
// "stream": true and "paradec_canvas": true to watch the canvas (docs/server.md).

const $ = (id) => document.getElementById(id);

const state = {
  models: [],
  strategies: [],
  controller: null,
};

// ---------------------------------------------------------------------------------------------
// API

function authHeaders() {
  const key = $('api-key').value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function getJson(path) {
  const res = await fetch(path, { headers: authHeaders() });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(body?.error?.message ?? `${path}: HTTP ${res.status}`), { status: res.status });
  return body;
}

/** The `data:` payloads of a server-sent-events body, parsed; stops at `[DONE]`. */
async function* sseData(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') return;
      yield JSON.parse(data);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Colours: the step that committed a cell, early (dark blue) to late (yellow), viridis-like.

const STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

function stepColour(step, lastStep) {
  const t = lastStep <= 1 ? 0 : Math.min(1, Math.max(0, (step - 1) / (lastStep - 1)));
  const x = t * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
  const light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 150;
  return { background: `rgb(${rgb.join(',')})`, color: light ? '#1d1d1f' : '#ffffff' };
}

function paintLegend(lastStep) {
  $('legend-first').textContent = '1';
  $('legend-last').textContent = String(Math.max(1, lastStep));
  const stops = STOPS.map((c) => `rgb(${c.join(',')})`).join(', ');
  $('legend-bar').style.background = `linear-gradient(to right, ${stops})`;
}

// ---------------------------------------------------------------------------------------------
// Form

function currentModel() {
  return state.models.find((m) => m.id === $('model').value);
}

function currentStrategy() {
  return state.strategies.find((s) => s.name === $('strategy').value);
}

const EXAMPLES = {
  line: 'copy: ["Paul Payne", "Robert Riley", "Peter Stone"]',
  text: 'The quick brown fox',
};

function showModel() {
  const model = currentModel();
  if (!model) return;
  const info = model.paradec;
  document.body.dataset.family = info.family;
  $('legend-label').textContent = info.family === 'diffusion' ? 'committed at step' : 'streamed chunk (about one per forward pass)';
  $('model-info').textContent = `${info.family} · ${info.architecture}` + (info.default_gen_length ? ` · canvas ${info.default_gen_length} by default` : '');
  $('gen_length').placeholder = String(info.default_gen_length ?? '');
  const select = $('strategy');
  select.replaceChildren(...info.strategies.map((name) => new Option(name, name, false, name === info.default_strategy)));
  if (!$('prompt').value.trim()) $('prompt').value = EXAMPLES[info.prompt_format] ?? EXAMPLES.text;
  showStrategy();
}

function paramInput(name, spec) {
  let input;
  if (spec.type === 'boolean' || spec.choices) {
    input = document.createElement('select');
    input.append(new Option(`default (${spec.default})`, ''));
    for (const v of spec.type === 'boolean' ? ['true', 'false'] : spec.choices) input.append(new Option(v, v));
  } else {
    input = document.createElement('input');
    if (spec.type === 'int' || spec.type === 'number') {
      input.type = 'number';
      input.step = spec.type === 'int' ? '1' : 'any';
      if (spec.min !== undefined) input.min = String(spec.min);
      if (spec.max !== undefined) input.max = String(spec.max);
    } else {
      input.type = 'text';
    }
    input.placeholder = spec.default === null ? 'none' : String(spec.default);
  }
  input.dataset.param = name;
  input.dataset.type = spec.type;
  const label = document.createElement('label');
  label.title = spec.description;
  label.append(name, input);
  return label;
}

function showStrategy() {
  const s = currentStrategy();
  const box = $('strategy-params');
  const legend = box.querySelector('legend');
  box.replaceChildren(legend);
  if (!s) return;
  $('strategy-info').textContent = s.summary;
  const names = Object.keys(s.params);
  if (names.length === 0) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = 'no parameters';
    box.append(p);
  }
  for (const name of names) box.append(paramInput(name, s.params[name]));
}

function strategyOptions() {
  const out = {};
  for (const input of $('strategy-params').querySelectorAll('[data-param]')) {
    const raw = input.value.trim();
    if (raw === '') continue;
    const type = input.dataset.type;
    out[input.dataset.param] = type === 'int' || type === 'number' ? Number(raw) : type === 'boolean' ? raw === 'true' : raw;
  }
  return out;
}

function numberField(id) {
  const raw = $(id).value.trim();
  return raw === '' ? undefined : Number(raw);
}

// ---------------------------------------------------------------------------------------------
// The view

function setStatus(text, kind) {
  $('status').textContent = text;
  $('status').dataset.state = kind;
}

function displayText(text) {
  if (/^<.*>$/.test(text)) {
    const name = text.replace(/^<\|?\/?|\|?>$/g, '');
    return { text: /end|eos|^s$/i.test(name) ? 'eos' : name, special: true };
  }
  return { text: text.replace(/\n/g, '⏎').replace(/\t/g, '⇥') || '␣', special: false };
}

class CanvasView {
  constructor(root) {
    this.root = root;
    this.cells = [];
    this.lastStep = 1;
    this.committed = 0;
  }

  reset(length, expectedSteps) {
    this.lastStep = Math.max(1, expectedSteps);
    this.committed = 0;
    this.cells = Array.from({ length }, (_, i) => {
      const cell = document.createElement('span');
      cell.className = 'cell masked';
      cell.dataset.position = String(i);
      cell.textContent = '?';
      cell.title = `position ${i}: masked`;
      return cell;
    });
    this.root.replaceChildren(...this.cells);
    paintLegend(this.lastStep);
  }

  frame(f) {
    if (f.step === 0 || this.cells.length !== f.length) this.reset(f.length, this.lastStep);
    for (const cell of this.root.querySelectorAll('.fresh')) cell.classList.remove('fresh');
    for (const c of f.committed) {
      const cell = this.cells[c.position];
      if (!cell) continue;
      if (!cell.classList.contains('committed')) this.committed += 1;
      const shown = displayText(c.text);
      cell.className = 'cell committed fresh' + (shown.special ? ' special' : '');
      cell.dataset.step = String(f.step);
      cell.textContent = shown.text;
      const badge = document.createElement('span');
      badge.className = 'step';
      badge.textContent = String(f.step);
      cell.append(badge);
      cell.title = `position ${c.position}: token ${c.token} ${JSON.stringify(c.text)}, committed at step ${f.step}`;
      Object.assign(cell.style, stepColour(f.step, this.lastStep));
    }
    for (const position of f.remasked) {
      const cell = this.cells[position];
      if (!cell) continue;
      if (cell.classList.contains('committed')) this.committed -= 1;
      cell.className = 'cell masked remasked';
      cell.removeAttribute('style');
      cell.textContent = '?';
      cell.title = `position ${position}: remasked at step ${f.step}`;
    }
    if (f.done) {
      for (const cell of this.root.querySelectorAll('.fresh')) cell.classList.remove('fresh');
      this.recolour(Math.max(1, f.step));
    }
  }

  /** Spread the colours over the steps actually taken. */
  recolour(lastStep) {
    this.lastStep = lastStep;
    for (const cell of this.cells) {
      if (cell.dataset.step) Object.assign(cell.style, stepColour(Number(cell.dataset.step), lastStep));
    }
    paintLegend(lastStep);
  }
}

/** Autoregressive models: each text chunk is what one forward (a verify, with drafts) committed. */
class ChunkView {
  constructor(root) {
    this.root = root;
    this.count = 0;
    root.replaceChildren();
  }

  add(text) {
    this.count += 1;
    const span = document.createElement('span');
    span.className = 'cell committed ar-chunk';
    span.dataset.step = String(this.count);
    span.textContent = text.replace(/\n/g, '⏎');
    span.title = `chunk ${this.count}`;
    this.root.append(span);
    this.recolour(Math.max(this.count, 8));
  }

  recolour(lastStep) {
    for (const span of this.root.children) Object.assign(span.style, stepColour(Number(span.dataset.step), lastStep));
    paintLegend(lastStep);
  }
}

// ---------------------------------------------------------------------------------------------
// Running a prompt

async function run(event) {
  event.preventDefault();
  const model = currentModel();
  if (!model || state.controller) return;
  const diffusion = model.paradec.family === 'diffusion';
  const body = {
    model: model.id,
    prompt: $('prompt').value,
    stream: true,
    stream_options: { include_usage: true },
    paradec_canvas: true,
    strategy: $('strategy').value,
    strategy_options: strategyOptions(),
    temperature: numberField('temperature'),
    seed: numberField('seed'),
  };
  if (diffusion) {
    body.gen_length = numberField('gen_length');
    body.steps = numberField('steps');
    body.block_length = numberField('block_length');
  } else {
    body.max_tokens = numberField('max_tokens');
  }
  const genLength = body.gen_length ?? model.paradec.default_gen_length ?? 1;
  const canvas = new CanvasView($('canvas'));
  const chunks = diffusion ? null : new ChunkView($('canvas'));
  if (diffusion) canvas.reset(genLength, body.steps ?? genLength);
  $('output').textContent = '';
  $('stat-nfe').textContent = '0';
  $('stat-tpf').textContent = '–';
  $('stat-work').textContent = '–';
  $('stat-committed').textContent = diffusion ? `0 / ${genLength}` : '0';
  $('stat-accept').textContent = '–';

  const controller = new AbortController();
  state.controller = controller;
  $('run').disabled = true;
  $('stop').disabled = false;
  setStatus('running…', 'running');
  const started = performance.now();
  let ticking = true;
  const tick = () => {
    if (!ticking) return;
    $('stat-ms').textContent = `${Math.round(performance.now() - started)} ms`;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);

  try {
    const res = await fetch('/v1/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!res.ok) {
      const err = await res.json().catch(() => null);
      throw new Error(err?.error?.message ?? `HTTP ${res.status}`);
    }
    let timings = null;
    for await (const chunk of sseData(res.body)) {
      if (chunk.error) throw new Error(chunk.error.message);
      const frame = chunk.paradec_canvas;
      if (frame) {
        canvas.frame(frame);
        $('stat-nfe').textContent = String(frame.step);
        $('stat-committed').textContent = `${canvas.committed} / ${frame.length}`;
      }
      const text = chunk.choices?.[0]?.text;
      if (text) {
        $('output').textContent += text;
        if (chunks) {
          chunks.add(text);
          $('stat-nfe').textContent = String(chunks.count);
          $('stat-committed').textContent = String(chunks.count);
        }
      }
      if (chunk.timings) timings = chunk.timings;
      if (chunk.usage && !diffusion) $('stat-committed').textContent = `${chunk.usage.completion_tokens} tokens`;
    }
    ticking = false;
    if (timings) {
      $('stat-nfe').textContent = String(timings.forward_passes);
      $('stat-ms').textContent = `${Math.round(timings.predicted_ms)} ms`;
      $('stat-tpf').textContent = timings.tokens_per_forward.toFixed(2);
      if (typeof timings.work === 'number') $('stat-work').textContent = timings.draft_work ? `${timings.work} + ${timings.draft_work} draft` : String(timings.work);
      if (chunks) chunks.recolour(Math.max(1, chunks.count));
      if (timings.accepted_per_verify !== null) {
        $('stat-accept').textContent = `${timings.accepted_per_verify.toFixed(2)} (${timings.accepted}/${timings.drafted})`;
      } else if (!diffusion) {
        $('stat-accept').textContent = 'no drafts';
      }
    }
    setStatus(`done: ${timings?.forward_passes ?? '?'} forward passes, strategy ${timings?.strategy ?? body.strategy}`, 'done');
  } catch (e) {
    ticking = false;
    if (controller.signal.aborted) setStatus('stopped', 'stopped');
    else setStatus(e.message, 'error');
  } finally {
    state.controller = null;
    $('run').disabled = false;
    $('stop').disabled = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Start

async function load() {
  try {
    const [models, strategies] = await Promise.all([getJson('/v1/models'), getJson('/v1/strategies')]);
    state.models = models.data;
    state.strategies = strategies.data;
    $('model').replaceChildren(...state.models.map((m) => new Option(`${m.id} (${m.paradec.family})`, m.id)));
    showModel();
    setStatus('Choose a model, type a prompt, press Run.', 'idle');
  } catch (e) {
    if (e.status === 401) $('key-box').open = true;
    setStatus(e.message, 'error');
  }
}

function start() {
  $('api-key').value = localStorage.getItem('paradec-api-key') ?? '';
  $('api-key').addEventListener('change', () => {
    localStorage.setItem('paradec-api-key', $('api-key').value.trim());
    void load();
  });
  $('model').addEventListener('change', showModel);
  $('strategy').addEventListener('change', showStrategy);
  $('controls').addEventListener('submit', run);
  $('stop').addEventListener('click', () => state.controller?.abort());
  paintLegend(1);
  void load();
}

start();
