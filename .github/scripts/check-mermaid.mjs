#!/usr/bin/env node
/*
 * Parses every ```mermaid block of Markdown files with the real Mermaid parser, so a diagram in the docs that
 * GitHub would show as "Unable to render" fails the tests instead.
 *
 *   node .github/scripts/check-mermaid.mjs --modules <node_modules with mermaid and jsdom> FILE.md...
 *
 * scripts/setup/workflow-tools.sh installs the pinned Mermaid and jsdom under the cache ("$PAVEMASTER_CACHE/mermaid").
 */
import fs from 'fs';
import { createRequire } from 'module';
import path from 'path';
import { pathToFileURL } from 'url';

const args = process.argv.slice(2);
const at = args.indexOf('--modules');
if (at < 0 || args.length < at + 2) {
  process.stderr.write('usage: check-mermaid.mjs --modules <node_modules> FILE.md...\n');
  process.exit(64);
}
const modules = path.resolve(args[at + 1]);
const files = args.filter((_, i) => i !== at && i !== at + 1);
if (files.length === 0) {
  process.stderr.write('check-mermaid: no Markdown file given\n');
  process.exit(64);
}

// Mermaid's parser expects a browser: give it jsdom's window, document and DOMParser.
const require = createRequire(path.join(modules, 'noop.js'));
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
const { default: mermaid } = await import(
  pathToFileURL(path.join(modules, 'mermaid', 'dist', 'mermaid.core.mjs')).href
);
mermaid.initialize({ startOnLoad: false });

let diagrams = 0;
let failures = 0;
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  for (const match of text.matchAll(/```mermaid\n([\s\S]*?)```/g)) {
    diagrams++;
    const line = text.slice(0, match.index).split('\n').length;
    try {
      const result = await mermaid.parse(match[1]);
      process.stdout.write(`ok ${file}:${line} ${result.diagramType}\n`);
    } catch (e) {
      failures++;
      process.stdout.write(
        `FAIL ${file}:${line} ${String(e.message ?? e)
          .split('\n')
          .slice(0, 3)
          .join(' ')}\n`,
      );
    }
  }
}
process.stdout.write(`check-mermaid: ${diagrams} diagram(s), ${failures} failed\n`);
process.exit(failures === 0 && diagrams > 0 ? 0 : 1);
