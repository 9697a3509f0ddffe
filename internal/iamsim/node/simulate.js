// simulate.js evaluates IAM requests with @cloud-copilot/iam-simulate for
// jit's Go tests (internal/iamsim). It is a separate test program: the
// simulator is AGPL-3.0 and is never bundled into or linked with jit.
//
// Protocol: one JSON object per stdin line, {"id": N, "simulation": {...}}
// where simulation is runSimulation's first argument; one JSON line per
// answer on stdout, {"id": N, "resultType", "overallResult",
// "ignoredContextKeys", "errors"} or {"id": N, "error": "..."}. The first
// stdout line is {"ready": true, "version": "<iam-simulate version>"}.
// The program exits when stdin closes.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const pkg = new URL('./node_modules/@cloud-copilot/iam-simulate/package.json', import.meta.url);
const { version } = JSON.parse(readFileSync(pkg, 'utf8'));

function answer(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function evaluate(line) {
  let id = null;
  try {
    const msg = JSON.parse(line);
    id = msg.id;
    const r = await runSimulation(msg.simulation, msg.options ?? {});
    const out = { id, resultType: r.resultType, overallResult: r.overallResult ?? '' };
    if (r.resultType === 'error') {
      out.errors = r.errors;
    } else if (r.resultType === 'single') {
      out.ignoredContextKeys = r.result.ignoredContextKeys ?? [];
    } else {
      out.ignoredContextKeys = [...new Set(r.results.flatMap((x) => x.ignoredContextKeys ?? []))];
    }
    answer(out);
  } catch (err) {
    answer({ id, error: String(err && err.stack ? err.stack : err) });
  }
}

// Answers go out in request order: each line waits for the one before.
let queue = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  queue = queue.then(() => evaluate(line));
});
rl.on('close', () => {
  queue.then(() => process.exit(0));
});
answer({ ready: true, version });
