// Charge-point simulator for the ocpp connector tests, built on ocpp-rpc
// (strict mode: our answers are checked against the OCPP JSON schemas).
// Reads one JSON command per line on stdin and writes one JSON line per
// result on stdout:
//   {"op":"connect","endpoint":"ws://..","identity":"CP_1","protocol":"ocpp1.6","password":"..","headers":{}}
//   {"op":"call","action":"BootNotification","params":{..}}   -> {"seq":n,"result":{..}} | {"seq":n,"error":{..}}
//   {"op":"raw","data":"[2,\"x\""}                                -> the next inbound frame, as {"seq":n,"raw":".."}
//   {"op":"swarm","n":200,"endpoint":..,"prefix":"SW","protocol":..,"meters":5}
//   {"op":"close"}
// Calls from the central system are answered (Accepted) and reported as
// {"incoming":"Reset","params":{..}}.
const { RPCClient } = require("ocpp-rpc");
const readline = require("readline");

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
let cli = null;
let rawWaiter = null;

function answer(method, params, proto) {
  switch (method) {
    case "DataTransfer": return { status: "Accepted", data: JSON.stringify({ echo: params.data === undefined ? null : params.data }) };
    case "GetConfiguration": return { configurationKey: [{ key: (params.key || ["HeartbeatInterval"])[0], readonly: false, value: "300" }] };
    case "GetVariables": return { getVariableResult: params.getVariableData.map((d) => ({ attributeStatus: "Accepted", component: d.component, variable: d.variable, attributeValue: "300" })) };
    case "SetVariables": return { setVariableResult: params.setVariableData.map((d) => ({ attributeStatus: "Accepted", component: d.component, variable: d.variable })) };
    case "TriggerMessage": return { status: "Accepted" };
    default: return { status: "Accepted" };
  }
}

function client(o) {
  const c = new RPCClient({
    endpoint: o.endpoint, identity: o.identity, protocols: [o.protocol], strictMode: o.strict !== false,
    password: o.password, headers: o.headers || {}, reconnect: false, callTimeoutMs: 30000,
    wsOpts: o.ca ? { ca: o.ca } : {},
  });
  for (const m of ["DataTransfer", "GetConfiguration", "GetVariables", "SetVariables", "TriggerMessage", "Reset",
    "RemoteStartTransaction", "RemoteStopTransaction", "RequestStartTransaction", "RequestStopTransaction",
    "ChangeConfiguration", "UnlockConnector", "ChangeAvailability"]) {
    c.handle(m, ({ params }) => { if (!o.quiet) out({ incoming: m, params }); return answer(m, params, o.protocol); });
  }
  return c;
}

function meter(proto, i) {
  const ts = new Date().toISOString();
  if (proto === "ocpp1.6") return { connectorId: 1, meterValue: [{ timestamp: ts, sampledValue: [{ value: String(i) }] }] };
  return { evseId: 1, meterValue: [{ timestamp: ts, sampledValue: [{ value: i }] }] };
}
function boot(proto, vendor, model) {
  if (proto === "ocpp1.6") return { chargePointVendor: vendor, chargePointModel: model };
  return { reason: "PowerUp", chargingStation: { vendorName: vendor, model } };
}

async function swarm(o, seq) {
  const clients = [];
  const t0 = Date.now();
  await Promise.all(Array.from({ length: o.n }, async (_, i) => {
    const c = client({ ...o, identity: o.prefix + i, quiet: true });
    await c.connect();
    clients.push(c);
    await c.call("BootNotification", boot(o.protocol, "Swarm", "M" + i));
  }));
  const connected = Date.now() - t0;
  const t1 = Date.now();
  for (let k = 0; k < (o.meters || 1); k++) {
    await Promise.all(clients.map((c, i) => c.call("MeterValues", meter(o.protocol, k))));
  }
  const metered = Date.now() - t1;
  out({ seq, result: { connected: clients.length, connectMs: connected, meterMs: metered, meterCalls: clients.length * (o.meters || 1) } });
  global.swarmClients = clients;
}

async function handle(cmd, seq) {
  try {
    switch (cmd.op) {
      case "connect":
        cli = client(cmd);
        cli.on("message", ({ message, outbound }) => {
          if (!outbound && rawWaiter) { const w = rawWaiter; rawWaiter = null; w(String(message)); }
        });
        cli.on("close", ({ code, reason }) => out({ closed: code, reason: String(reason) }));
        await cli.connect();
        out({ seq, result: { protocol: cli.protocol } });
        break;
      case "call":
        out({ seq, result: await cli.call(cmd.action, cmd.params) });
        break;
      case "raw": {
        const got = new Promise((res) => { rawWaiter = res; });
        cli.sendRaw(cmd.data);
        out({ seq, raw: await got });
        break;
      }
      case "swarm":
        await swarm(cmd, seq);
        break;
      case "close":
        if (cli) await cli.close({ code: 1000 });
        for (const c of global.swarmClients || []) await c.close({ code: 1000 });
        out({ seq, result: "closed" });
        break;
    }
  } catch (e) {
    out({ seq, error: { name: e.name, code: e.rpcErrorCode || e.code || "", message: e.message, status: e.statusCode || (e.response && e.response.statusCode) || 0 } });
  }
}

let seq = 0;
const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on("line", (line) => { if (!line.trim()) return; const s = ++seq; const cmd = JSON.parse(line); chain = chain.then(() => handle(cmd, s)); });
rl.on("close", () => chain.then(async () => {
  if (cli) await cli.close({ code: 1000 }).catch(() => {});
  for (const c of global.swarmClients || []) await c.close({ code: 1000 }).catch(() => {});
  process.exit(0);
}));
