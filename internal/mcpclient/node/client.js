// An independent MCP client for jit's tests: npm's @modelcontextprotocol/sdk
// (pinned by package-lock.json, installed by scripts/deps.sh) starts the
// server command given on the command line (`jit mcp`) over stdio, as an
// agent would, and then does what the Go test asks, one JSON line at a time:
//
//   stdin:  {"op":"list_tools"}
//           {"op":"call","name":"request_role","arguments":{...}}
//   stdout: {"ok":true,"result":...}   (the SDK's result object)
//           {"ok":false,"error":"..."} (a protocol or transport error)
//
// The server command inherits this process's environment (the person's jit
// login); its stderr goes to ours. The SDK validates every structured
// result against the tool's output schema, so a result that does not match
// its declared schema is an error here.
//
// Usage: node client.js CLIENT_NAME COMMAND [ARG...]
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [name, command, ...args] = process.argv.slice(2);
if (!name || !command) {
  process.stderr.write("usage: node client.js CLIENT_NAME COMMAND [ARG...]\n");
  process.exit(2);
}

const transport = new StdioClientTransport({ command, args, env: { ...process.env }, stderr: "inherit" });
const client = new Client({ name, version: "1.0.0" });
await client.connect(transport);
const info = client.getServerVersion();
process.stdout.write(JSON.stringify({ ok: true, result: { server: info } }) + "\n");

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === "") continue;
  let out;
  try {
    const msg = JSON.parse(line);
    if (msg.op === "list_tools") {
      out = { ok: true, result: await client.listTools() };
    } else if (msg.op === "call") {
      out = { ok: true, result: await client.callTool({ name: msg.name, arguments: msg.arguments ?? {} }, undefined, { timeout: 120000 }) };
    } else {
      out = { ok: false, error: `unknown op ${JSON.stringify(msg.op)}` };
    }
  } catch (err) {
    out = { ok: false, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
await client.close();
