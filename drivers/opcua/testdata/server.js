// OPC-UA test server for the opcua connector's tests and benchmark.
//
//   node server.js <port> <pkiDir> [--bench N] [--secure | --all-policies] [--upstream-blackbox]
//
// --upstream-blackbox adds the address space of upstream's blackbox test
// server (namespaces 3 to 5, Root.Objects.TempSensor, TempSensor_S and
// TempSensor_G with their node ids and values, derived from upstream's
// tests/blackbox/data/opcua configurations and expected values).
//
// Listens on 127.0.0.1:<port>, prints "listening <endpoint>" once ready.
// --secure offers only Basic256Sha256 with SignAndEncrypt; --all-policies
// offers every policy with None, Sign and SignAndEncrypt. Client
// certificates are trusted on first use.
//
// Lines on stdin control it:
//   drop-sessions       close every session on the server side
//   drop-subscriptions  delete every subscription, sessions stay
//   add-late            add the variable MyObject.Late (Int32 99)
"use strict";

const path = require("path");
const readline = require("readline");
const { OPCUAServer } = require("node-opcua-server");
const { Variant, DataType, VariantArrayType } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");
const { DataValue } = require("node-opcua-data-value");
const { QualifiedName, LocalizedText } = require("node-opcua-data-model");
const { resolveNodeId, makeExpandedNodeId } = require("node-opcua-nodeid");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

const port = parseInt(process.argv[2], 10);
const pki = process.argv[3];
const bench = process.argv.indexOf("--bench") > 0 ? parseInt(process.argv[process.argv.indexOf("--bench") + 1], 10) : 0;
const secure = process.argv.includes("--secure");
const allPolicies = process.argv.includes("--all-policies");
const upstreamBlackbox = process.argv.includes("--upstream-blackbox");
const policyURI = (p) => "http://opcfoundation.org/UA/SecurityPolicy#" + p;

const rw = { accessLevel: "CurrentRead | CurrentWrite", userAccessLevel: "CurrentRead | CurrentWrite" };

(async () => {
  const serverCertificateManager = new OPCUACertificateManager({
    automaticallyAcceptUnknownCertificate: true,
    rootFolder: path.join(pki, "server"),
  });
  const userCertificateManager = new OPCUACertificateManager({
    automaticallyAcceptUnknownCertificate: true,
    rootFolder: path.join(pki, "user"),
  });
  const opts = {
    port,
    host: "127.0.0.1",
    hostname: "127.0.0.1",
    resourcePath: "/",
    allowAnonymous: true,
    serverCertificateManager,
    userCertificateManager,
    userManager: { isValidUser: (u, p) => u === "user" && p === "secret" },
    serverCapabilities: { operationLimits: { maxNodesPerRead: 500, maxMonitoredItemsPerCall: 1000 } },
  };
  if (secure) {
    opts.securityPolicies = [policyURI("Basic256Sha256")];
    opts.securityModes = [3]; // SignAndEncrypt only
  }
  if (allPolicies) {
    opts.securityPolicies = ["None", "Basic128Rsa15", "Basic256", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"].map(policyURI);
    opts.securityModes = [1, 2, 3];
  }
  const server = new OPCUAServer(opts);
  await server.initialize();
  const space = server.engine.addressSpace;
  const ns = space.getOwnNamespace();
  const objects = space.rootFolder.objects;
  const addVar = (o) => ns.addVariable({ minimumSamplingInterval: 100, ...o });

  // --- The device of the upstream sample config: Root.Objects.MyObject.
  const my = ns.addObject({ organizedBy: objects, browseName: "MyObject", nodeId: "s=MyObject" });
  const state = { temperature: 20.0, humidity: 45.5, relay: false, setpoint: 1.5, counter: 0, flaky: 0, flakyBad: false, text: "hello" };
  const dbl = (name, get, set) =>
    addVar({
      componentOf: my, browseName: name, nodeId: "s=MyObject." + name, dataType: "Double", ...rw,
      value: { get: () => new Variant({ dataType: DataType.Double, value: get() }), set },
    });
  dbl("Temperature", () => state.temperature);
  dbl("Humidity", () => state.humidity, (v) => { state.humidity = v.value; return StatusCodes.Good; });
  dbl("Frequency", () => 50.0);
  dbl("Power", () => 1234.5);
  dbl("Setpoint", () => state.setpoint, (v) => { state.setpoint = v.value; return StatusCodes.Good; });
  addVar({
    componentOf: my, browseName: "Relay", nodeId: "s=MyObject.Relay", dataType: "Boolean", ...rw,
    value: { get: () => new Variant({ dataType: DataType.Boolean, value: state.relay }), set: (v) => { state.relay = !!v.value; return StatusCodes.Good; } },
  });
  addVar({
    componentOf: my, browseName: "Name", nodeId: "s=MyObject.Name", dataType: "String",
    value: { get: () => new Variant({ dataType: DataType.String, value: "Demo Device" }) },
  });
  addVar({
    componentOf: my, browseName: "Profile", nodeId: "s=MyObject.Profile", dataType: "String",
    value: { get: () => new Variant({ dataType: DataType.String, value: "thermostat" }) },
  });
  addVar({
    componentOf: my, browseName: "Counter", nodeId: "i=1001", dataType: "Int32", ...rw,
    value: { get: () => new Variant({ dataType: DataType.Int32, value: state.counter }), set: (v) => { state.counter = v.value; return StatusCodes.Good; } },
  });
  addVar({
    componentOf: my, browseName: "Text", nodeId: "s=MyObject.Text", dataType: "String", ...rw,
    value: { get: () => new Variant({ dataType: DataType.String, value: state.text }), set: (v) => { state.text = v.value; return StatusCodes.Good; } },
  });
  // Flaky: good Int32 value, or a bad status without value while FlakyBad is true.
  const flaky = addVar({ componentOf: my, browseName: "Flaky", nodeId: "s=MyObject.Flaky", dataType: "Int32" });
  flaky.setValueFromSource(new Variant({ dataType: DataType.Int32, value: 0 }));
  addVar({
    componentOf: my, browseName: "FlakyBad", nodeId: "s=MyObject.FlakyBad", dataType: "Boolean", ...rw,
    value: {
      get: () => new Variant({ dataType: DataType.Boolean, value: state.flakyBad }),
      set: (v) => {
        state.flakyBad = !!v.value;
        if (state.flakyBad) {
          flaky.setValueFromSource(new Variant({ dataType: DataType.Null }), StatusCodes.BadCommunicationError);
        }
        return StatusCodes.Good;
      },
    },
  });
  const nested = ns.addObject({ componentOf: my, browseName: "Nested", nodeId: "s=MyObject.Nested" });
  const deep = ns.addObject({ organizedBy: nested, browseName: "Deep", nodeId: "s=MyObject.Nested.Deep" });
  addVar({
    componentOf: deep, browseName: "Value", nodeId: "s=MyObject.Nested.Deep.Value", dataType: "UInt16",
    value: { get: () => new Variant({ dataType: DataType.UInt16, value: 7 }) },
  });
  // A browse name in another namespace than the device's own: "0:..." paths.
  const multiply = ns.addMethod(my, {
    browseName: "multiply", nodeId: "s=MyObject.multiply",
    inputArguments: [{ name: "a", dataType: DataType.Int32 }, { name: "b", dataType: DataType.Int32 }],
    outputArguments: [{ name: "product", dataType: DataType.Int32 }],
  });
  multiply.bindMethod((args, ctx, cb) => {
    cb(null, { statusCode: StatusCodes.Good, outputArguments: [{ dataType: DataType.Int32, value: args[0].value * args[1].value }] });
  });
  // echo: an argument declared BaseDataType (any type), answered as given.
  const echo = ns.addMethod(my, {
    browseName: "echo", nodeId: "s=MyObject.echo",
    inputArguments: [{ name: "x", dataType: DataType.Variant }],
    outputArguments: [{ name: "x", dataType: DataType.Variant }],
  });
  echo.bindMethod((args, ctx, cb) => cb(null, { statusCode: StatusCodes.Good, outputArguments: [args[0]] }));
  const getRelay = ns.addMethod(my, {
    browseName: "get_relay", nodeId: "s=MyObject.get_relay", inputArguments: [],
    outputArguments: [{ name: "relay", dataType: DataType.Boolean }],
  });
  getRelay.bindMethod((args, ctx, cb) => cb(null, { statusCode: StatusCodes.Good, outputArguments: [{ dataType: DataType.Boolean, value: state.relay }] }));
  const setRelay = ns.addMethod(my, {
    browseName: "set_relay", nodeId: "s=MyObject.set_relay",
    inputArguments: [{ name: "relay", dataType: DataType.Boolean }], outputArguments: [],
  });
  setRelay.bindMethod((args, ctx, cb) => { state.relay = !!args[0].value; cb(null, { statusCode: StatusCodes.Good, outputArguments: [] }); });

  // --- Every built-in type, under Root.Objects.MyObject.Types.
  const types = ns.addObject({ componentOf: my, browseName: "Types", nodeId: "s=Types" });
  const typed = (name, dataType, value, arrayType) => {
    const v = addVar({ componentOf: types, browseName: name, nodeId: "s=Types." + name, dataType: DataType[dataType] === undefined ? dataType : dataType, ...rw,
      valueRank: arrayType ? 1 : -1 });
    v.setValueFromSource(new Variant({ dataType: DataType[dataType], arrayType: arrayType || VariantArrayType.Scalar, value }));
    return v;
  };
  typed("Boolean", "Boolean", true);
  typed("SByte", "SByte", -8);
  typed("Byte", "Byte", 200);
  typed("Int16", "Int16", -1600);
  typed("UInt16", "UInt16", 1600);
  typed("Int32", "Int32", -320000);
  typed("UInt32", "UInt32", 320000);
  typed("Int64", "Int64", [0xffffffff, 0xfffffffe]); // -2 as [high, low]
  typed("UInt64", "UInt64", [0, 64000]);
  typed("Float", "Float", 1.5);
  typed("Double", "Double", 2.25);
  typed("String", "String", "text");
  typed("DateTime", "DateTime", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)));
  typed("Guid", "Guid", "72962B91-FA75-4AE6-8D28-B404DC7DAF63");
  typed("ByteString", "ByteString", Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  typed("XmlElement", "XmlElement", "<a>b</a>");
  typed("NodeId", "NodeId", resolveNodeId("ns=1;s=Target"));
  typed("ExpandedNodeId", "ExpandedNodeId", makeExpandedNodeId(resolveNodeId("ns=1;i=42")));
  typed("StatusCode", "StatusCode", StatusCodes.BadTimeout);
  typed("QualifiedName", "QualifiedName", new QualifiedName({ namespaceIndex: 1, name: "Qname" }));
  typed("LocalizedText", "LocalizedText", new LocalizedText({ locale: "en", text: "Hello" }));
  typed("DoubleArray", "Double", new Float64Array([1.5, 2.5]), VariantArrayType.Array);
  typed("Int32Array", "Int32", new Int32Array([1, -2, 3]), VariantArrayType.Array);
  typed("StringArray", "String", ["a", "b"], VariantArrayType.Array);
  typed("BooleanArray", "Boolean", [true, false], VariantArrayType.Array);

  // --- Node id forms: numeric, string, guid, opaque.
  const ids = ns.addFolder(objects, { browseName: "Ids", nodeId: "s=Ids" });
  const idVar = (nodeId, name, value) =>
    addVar({
      componentOf: ids, browseName: name, nodeId, dataType: "Int32",
      value: { get: () => new Variant({ dataType: DataType.Int32, value }) },
    });
  idVar("i=2001", "Numeric", 11);
  idVar("s=Ids.String", "StringId", 12);
  idVar("g=1E14849E-3744-470D-8C7B-5F9110C2FA32", "GuidId", 13);
  idVar("b=AQIDBA==", "OpaqueId", 14);

  // --- Device found by node id: ns=1;s=Boiler, named from its Serial.
  const boiler = ns.addObject({ organizedBy: objects, browseName: "Boiler", nodeId: "s=Boiler" });
  addVar({
    componentOf: boiler, browseName: "Serial", nodeId: "s=Boiler.Serial", dataType: "String",
    value: { get: () => new Variant({ dataType: DataType.String, value: "B-42" }) },
  });
  addVar({
    componentOf: boiler, browseName: "Pressure", nodeId: "s=Boiler.Pressure", dataType: "Double",
    value: { get: () => new Variant({ dataType: DataType.Double, value: 3.5 }) },
  });

  // --- Several devices matching one pattern: Root.Objects.Plant.Line.
  const plant = ns.addFolder(objects, { browseName: "Plant", nodeId: "s=Plant" });
  for (const n of [1, 2]) {
    const line = ns.addObject({ organizedBy: plant, browseName: "Line", nodeId: "s=Plant.Line" + n });
    addVar({
      componentOf: line, browseName: "Id", nodeId: "s=Plant.Line" + n + ".Id", dataType: "String",
      value: { get: () => new Variant({ dataType: DataType.String, value: "L" + n }) },
    });
    addVar({
      componentOf: line, browseName: "Speed", nodeId: "s=Plant.Line" + n + ".Speed", dataType: "Double",
      value: { get: () => new Variant({ dataType: DataType.Double, value: 10 * n }) },
    });
  }

  // --- Benchmark tree: Root.Objects.Bench.V0..V<N-1>, all changing every second.
  const benchVars = [];
  if (bench > 0) {
    const b = ns.addObject({ organizedBy: objects, browseName: "Bench", nodeId: "s=Bench" });
    for (let i = 0; i < bench; i++) {
      const v = addVar({ componentOf: b, browseName: "V" + i, nodeId: "s=Bench.V" + i, dataType: "Double", minimumSamplingInterval: 0 });
      v.setValueFromSource(new Variant({ dataType: DataType.Double, value: 0 }));
      benchVars.push(v);
    }
  }

  if (upstreamBlackbox) {
    for (let i = 2; i <= 5; i++) {
      if (space.getNamespaceArray().length <= i) space.registerNamespace("urn:tbgw:test:upstream:ns" + i);
    }
    const n3 = space.getNamespace(3), n4 = space.getNamespace(4), n5 = space.getNamespace(5);
    const v = (nsp, parent, browseName, nodeId, dataType, value) => {
      const x = nsp.addVariable({ componentOf: parent, browseName, nodeId, dataType, minimumSamplingInterval: 100, ...rw });
      x.setValueFromSource(new Variant({ dataType: DataType[dataType], value }));
      return x;
    };
    // Root.Objects.TempSensor (ns=3;i=1): paths, relative paths, identifiers.
    const ts = n3.addObject({ organizedBy: objects, browseName: "TempSensor", nodeId: "i=1" });
    v(n3, ts, "Pressure", "i=2", "Double", 1013.25);
    v(n3, ts, "SomeText", "i=3", "String", "SomeText");
    v(n3, ts, "Alarm", "i=4", "Boolean", true);
    v(n3, ts, "MyNodeId", "b=TXlOb2RlSWQ=", "Double", 12.2);
    const mul = n3.addMethod(ts, {
      browseName: "multiply", nodeId: "i=5",
      inputArguments: [{ name: "a", dataType: DataType.Int32 }, { name: "b", dataType: DataType.Int32 }],
      outputArguments: [{ name: "result", dataType: DataType.Int32 }],
    });
    mul.bindMethod((args, ctx, cb) => {
      cb(null, { statusCode: StatusCodes.Good, outputArguments: [{ dataType: DataType.Int32, value: args[0].value * args[1].value }] });
    });
    // Root.Objects.TempSensor_S (ns=4;s=TempSensor_S): different types.
    const tss = n4.addObject({ organizedBy: objects, browseName: "TempSensor_S", nodeId: "s=TempSensor_S" });
    v(n4, tss, "Humidity", "s=TempSensor_S.Humidity", "Double", 203.5);
    v(n3, tss, "Pressure_S", "i=8", "Double", 1560.25);
    v(n4, tss, "Status", "b=U3RhdHVzX1M=", "String", "OK");
    v(n4, tss, "Alarm", "s=TempSensor_S.Alarm", "Boolean", true);
    // Root.Objects.TempSensor_G (ns=5;g=...): identifiers of every kind.
    const tsg = n5.addObject({ organizedBy: objects, browseName: "TempSensor_G", nodeId: "g=018dd02c-fd22-754a-b6d3-5fcae91cd39d" });
    v(n5, tsg, "Humidity", "s=Humidity_S", "Double", 243.5);
    v(n3, tsg, "Pressure_S", "i=9", "Double", 23455.25);
    v(n5, tsg, "Status", "b=U3RhdHVzX1M=", "String", "ERROR");
    v(n5, tsg, "Alarm", "g=baeaf004-1e43-4a06-9ef0-e52010d5cd12", "Boolean", false);
  }

  let tick = 0;
  setInterval(() => {
    state.temperature = Math.round((state.temperature + 0.1) * 10) / 10;
    if (!state.flakyBad) {
      flaky.setValueFromSource(new Variant({ dataType: DataType.Int32, value: ++state.flaky }), StatusCodes.Good);
    }
  }, 100);
  if (benchVars.length) {
    setInterval(() => {
      tick++;
      const now = new Date();
      for (const v of benchVars) {
        v.setValueFromSource(new Variant({ dataType: DataType.Double, value: tick }), StatusCodes.Good, now);
      }
    }, 1000);
  }

  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const cmd = line.trim();
    const sessions = Object.values(server.engine._sessions || {});
    if (cmd === "drop-sessions") {
      for (const s of sessions) {
        await server.engine.closeSession(s.authenticationToken, true, "CloseSession");
      }
      console.log("dropped " + sessions.length);
    } else if (cmd === "drop-subscriptions") {
      let n = 0;
      for (const s of sessions) {
        for (const sub of s.publishEngine.subscriptions.slice()) {
          s.deleteSubscription(sub.id);
          n++;
        }
      }
      console.log("deleted subscriptions " + n);
    } else if (cmd === "add-late") {
      addVar({ componentOf: my, browseName: "Late", nodeId: "s=MyObject.Late", dataType: "Int32",
        value: { get: () => new Variant({ dataType: DataType.Int32, value: 99 }) } });
      console.log("added");
    }
  });
  rl.on("close", () => {}); // keep running when stdin closes

  await server.start();
  console.log("listening " + server.getEndpointUrl());
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
