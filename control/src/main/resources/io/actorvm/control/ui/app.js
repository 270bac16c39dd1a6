// The web console of 'actorvm serve': everything here goes through the API's own routes.
"use strict";

const state = { selected: null, socket: null, term: null, last: new Map() };

async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) {
    let message = r.status + " " + r.statusText;
    try { message = (await r.json()).fault_message || message; } catch (e) { /* not JSON */ }
    throw new Error(method + " " + path + ": " + message);
  }
  return r.status === 204 || r.headers.get("Content-Type") === null ? null
    : r.headers.get("Content-Type").includes("json") ? r.json() : r.text();
}

function say(message) {
  document.getElementById("status").textContent = message || "";
}

async function act(promise) {
  try {
    await promise;
    say("");
  } catch (e) {
    say(e.message);
  }
  refresh();
}

function vmPath(name, rest) {
  return "/vms/" + encodeURIComponent(name) + rest;
}

async function createAndStart(form) {
  const f = new FormData(form);
  const name = f.get("name");
  await api("POST", "/vms", { name });
  const boot = { kernel_image_path: f.get("kernel") };
  if (f.get("bootArgs")) boot.boot_args = f.get("bootArgs");
  if (f.get("initrd")) boot.initrd_path = f.get("initrd");
  await api("PUT", vmPath(name, "/boot-source"), boot);
  await api("PUT", vmPath(name, "/machine-config"), { vcpu_count: Number(f.get("vcpus")), mem_size_mib: Number(f.get("mem")) });
  select(name); // its console from the first byte
  await api("PUT", vmPath(name, "/actions"), { action_type: "InstanceStart" });
}

function formatBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function formatUptime(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + (s % 60) + " s";
}

function button(label, action, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.dataset.action = action;
  b.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
  return b;
}

function row(vm, now) {
  const tr = document.createElement("tr");
  tr.dataset.vm = vm.name;
  if (vm.name === state.selected) tr.classList.add("selected");
  // Rates from the difference to the previous listing.
  const prev = state.last.get(vm.name);
  let exitRate = "", ioRate = "";
  if (prev && now > prev.at) {
    const dt = (now - prev.at) / 1000;
    exitRate = Math.max(0, Math.round((vm.exits - prev.exits) / dt)).toString();
    ioRate = formatBytes(Math.max(0, Math.round((vm.io_bytes - prev.io_bytes) / dt))) + "/s";
  }
  state.last.set(vm.name, { at: now, exits: vm.exits, io_bytes: vm.io_bytes });
  const cells = [vm.name, vm.state, vm.vcpus, vm.mem_mib + " MiB", vm.state === "running" || vm.state === "paused" ? formatUptime(vm.uptime_s) : "", exitRate, ioRate];
  cells.forEach((text, i) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (i >= 2) td.className = "num";
    if (i === 1) td.dataset.field = "state";
    tr.appendChild(td);
  });
  const actions = document.createElement("td");
  const name = vm.name;
  if (vm.state === "not started") {
    actions.appendChild(button("Start", "start", () => act(api("PUT", vmPath(name, "/actions"), { action_type: "InstanceStart" }))));
  }
  if (vm.state === "running") {
    actions.appendChild(button("Pause", "pause", () => act(api("PUT", vmPath(name, "/vm/pause")))));
  }
  if (vm.state === "paused") {
    actions.appendChild(button("Resume", "resume", () => act(api("PUT", vmPath(name, "/vm/resume")))));
  }
  if (vm.state === "running" || vm.state === "paused") {
    actions.appendChild(button("Snapshot", "snapshot", () => act(api("PUT", vmPath(name, "/snapshot/create"), { type: "full" })
      .then(() => timeline(name)))));
    actions.appendChild(button("Stop", "stop", () => act(api("PUT", vmPath(name, "/vm/stop")))));
  }
  actions.appendChild(button("Console", "console", () => select(name)));
  tr.appendChild(actions);
  tr.addEventListener("click", () => select(name));
  return tr;
}

let refreshing = false;

async function refresh() {
  // One listing at a time: a server slower than the timer is not asked again before it answered.
  if (refreshing) return;
  refreshing = true;
  let vms;
  try {
    vms = await api("GET", "/vms");
  } catch (e) {
    say(e.message);
    return;
  } finally {
    refreshing = false;
  }
  const now = Date.now();
  const rows = document.getElementById("vm-rows");
  rows.replaceChildren(...vms.map((vm) => row(vm, now)));
}

function select(name) {
  if (state.selected === name) return;
  state.selected = name;
  document.getElementById("selected").hidden = false;
  document.getElementById("selected-name").textContent = name;
  if (state.socket) state.socket.close();
  if (!state.term) {
    // The DOM renderer keeps the text in the page (readable by tests and screen readers).
    state.term = new Terminal({ cols: 100, rows: 24, convertEol: true, rendererType: "dom" });
    state.term.open(document.getElementById("terminal"));
    // Typing goes to the VM selected now, through its socket.
    state.term.onData((data) => { if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(data); });
  }
  state.term.reset();
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + vmPath(name, "/console/ws"));
  socket.binaryType = "arraybuffer";
  socket.onmessage = (m) => { if (state.socket === socket) state.term.write(new Uint8Array(m.data)); };
  state.socket = socket;
  timeline(name);
  refresh();
}

async function timeline(name) {
  let snapshots;
  try {
    snapshots = await api("GET", vmPath(name, "/snapshots"));
  } catch (e) {
    say(e.message);
    return;
  }
  if (state.selected !== name) return;
  const list = document.getElementById("timeline");
  list.replaceChildren(...snapshots.map((s) => {
    const li = document.createElement("li");
    li.className = s.kind;
    li.dataset.snapshot = s.id;
    const id = document.createElement("div");
    id.className = "id";
    id.textContent = s.id;
    const when = document.createElement("div");
    when.textContent = s.kind + ", " + new Date(s.time).toLocaleTimeString() + (s.parent ? " after " + s.parent : "");
    li.append(id, when, button("Restore from here", "restore", () =>
      act(api("PUT", vmPath(name, "/restore"), { snapshot_id: s.id }).then(() => { state.term.reset(); }))));
    return li;
  }));
}

/** The terminal's text, line by line (what a screen reader or a test reads). */
window.terminalText = () => {
  if (!state.term) return "";
  const buffer = state.term.buffer.active, lines = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
  return lines.join("\n");
};

document.getElementById("create-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(createAndStart(e.target));
});
refresh();
setInterval(refresh, 1000);
