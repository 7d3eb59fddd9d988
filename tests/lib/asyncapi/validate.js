#!/usr/bin/env node
// Validate an AsyncAPI document with the official parser (@asyncapi/parser).
// Usage: node validate.js schemas/asyncapi.yaml
// Exits 0 when the document parses with no error-level diagnostic; prints
// every diagnostic (errors and warnings) with its path; exits 1 otherwise.
'use strict';
const path = require('path');
let Parser, fromFile;
try {
  ({ Parser, fromFile } = require('@asyncapi/parser'));
} catch (e) {
  console.error('validate.js: @asyncapi/parser is not installed; run `npm ci` in ' + __dirname);
  process.exit(1);
}

const SEVERITY = ['error', 'warning', 'info', 'hint'];

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: validate.js FILE');
    return 2;
  }
  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, path.resolve(file)).parse();
  let errors = 0;
  for (const d of diagnostics) {
    const sev = SEVERITY[d.severity] || String(d.severity);
    if (d.severity === 0) errors++;
    console.log(`${sev}: ${d.code}: ${d.message} at ${(d.path || []).join('.')}`);
  }
  if (!document || errors) {
    console.error(`validate.js: ${file}: ${errors} error(s)`);
    return 1;
  }
  // A few facts the document must state, so an empty document cannot pass.
  const channels = document.channels().all().map((c) => c.address());
  for (const want of ['{family}', 'wharf.{family}', 'wharf.retry.{ms}', 'wharf.dead']) {
    if (!channels.includes(want)) {
      console.error(`validate.js: no channel with address ${want} (have ${channels.join(', ')})`);
      return 1;
    }
  }
  const job = document.components().messages().get('job');
  const payload = job && job.payload();
  const required = payload ? payload.required() || [] : [];
  for (const k of ['v', 'id', 'type', 'args', 'created_at']) {
    if (!required.includes(k)) {
      console.error(`validate.js: the job payload (envelope) does not require ${k}: $ref not resolved?`);
      return 1;
    }
  }
  console.log(`validate.js: ${file}: valid AsyncAPI ${document.version()}, ${channels.length} channels, ` +
              `${document.operations().all().length} operations`);
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error('validate.js: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
