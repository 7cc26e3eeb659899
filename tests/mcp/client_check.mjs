// Drives a running mcp_server with the official MCP TypeScript SDK client over the Streamable
// HTTP transport, and prints what it learnt as one JSON object on standard output:
//
//   node client_check.mjs URL CHECK_PORT...
//
// It connects (initialize, notifications/initialized), lists the tools, calls each of them
// (check_port once per CHECK_PORT), calls check_port with a bad argument, pings, and closes. Each
// structured result is checked against the output schema its tool declares (Ajv), besides the
// SDK's own check.
// It also sends what the SDK never sends (malformed JSON, a lone notification, a GET) with fetch.
// The ctest test compares the output with what the library reports.

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StreamableHTTPClientTransport} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {EmptyResultSchema} from '@modelcontextprotocol/sdk/types.js';
import Ajv from 'ajv';

const [url, ...checkPorts] = process.argv.slice(2);
if (!url) {
  console.error('usage: node client_check.mjs URL CHECK_PORT...');
  process.exit(64);
}

const ajv = new Ajv({allErrors: true, strict: false});
const outputValidators = new Map();
const schemaErrors = [];

function learnOutputSchemas(tools) {
  for (const tool of tools) {
    outputValidators.set(tool.name, tool.outputSchema ? ajv.compile(tool.outputSchema) : null);
  }
  return tools;
}

function checkAgainstSchema(name, result) {
  const validate = outputValidators.get(name);
  if (!validate) {
    schemaErrors.push({tool: name, errors: 'the tool declares no output schema'});
  } else if (!result.isError && !validate(result.structuredContent)) {
    schemaErrors.push({tool: name, errors: ajv.errorsText(validate.errors)});
  }
}

async function callTool(client, name, args) {
  const result = await client.callTool({name, arguments: args});
  checkAgainstSchema(name, result);
  return {isError: result.isError === true, content: result.content, structured: result.structuredContent ?? null};
}

async function errorOf(request) {
  try {
    await request();
    return null;
  } catch (error) {
    return {code: error.code ?? null, message: String(error.message)};
  }
}

async function post(body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', accept: 'application/json, text/event-stream'},
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: text ? JSON.parse(text) : null
  };
}

async function rawHttp() {
  const stream = await fetch(url, {headers: {accept: 'text/event-stream'}});
  await stream.text();
  return {
    malformedJson: await post('{"jsonrpc": "2.0", "id": 1, '),
    notification: await post(JSON.stringify({jsonrpc: '2.0', method: 'notifications/initialized'})),
    invalidRequest: await post(JSON.stringify({jsonrpc: '1.0', id: 7, method: 'ping'})),
    getStream: {status: stream.status, allow: stream.headers.get('allow')},
  };
}

const client = new Client({name: 'portpool-client-check', version: '1.0.0'});
const transport = new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);

const report = {
  serverVersion: client.getServerVersion(),
  serverCapabilities: client.getServerCapabilities(),
  protocolVersion: transport.protocolVersion ?? null,
  tools: learnOutputSchemas((await client.listTools()).tools),
  listPools: await callTool(client, 'list_pools', {}),
  listPoolsOfInstance2: await callTool(client, 'list_pools', {instance: 2}),
  listPoolsOfMissingInstance: await callTool(client, 'list_pools', {instance: 99}),
  listHolders: await callTool(client, 'list_holders', {}),
  checkPort: [],
  checkPortWithBadArgument: await callTool(client, 'check_port', {port: 'eighty'}),
  checkPortOutOfRange: await callTool(client, 'check_port', {port: 70000}),
  checkPortWithBadTransport: await callTool(client, 'check_port', {port: 1, transport: 'quic'}),
  checkPortUdp: [],
  checkPortBoth: [],
  unknownTool: await errorOf(() => client.callTool({name: 'no_such_tool', arguments: {}})),
  unknownMethod: await errorOf(() => client.request({method: 'portpool/no_such_method'}, EmptyResultSchema)),
  ping: await client.ping(),
  rawHttp: await rawHttp(),
};
for (const port of checkPorts) {
  report.checkPort.push(await callTool(client, 'check_port', {port: Number(port)}));
  report.checkPortUdp.push(await callTool(client, 'check_port', {port: Number(port), transport: 'udp'}));
  report.checkPortBoth.push(await callTool(client, 'check_port', {port: Number(port), transport: 'both'}));
}
report.schemaErrors = schemaErrors;
await client.close();
console.log(JSON.stringify(report));
