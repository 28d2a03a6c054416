// Validate Teams Workflows messages with Microsoft's Adaptive Cards SDK (npm `adaptivecards`).
//
// Reads one JSON document per stdin line: {"id": "...", "body": "<the exact POST body as a string>"}
// and writes one line per document: {"id": "...", "problems": ["..."]}. One node process serves a
// whole test session, so every card a test builds is checked at a few ms each.
//
// Checks: the Workflows envelope (one Adaptive Card attachment), the 28,672-byte UTF-8 body limit,
// a strict "major.minor" version no newer than 1.5, the SDK's parse events and validateProperties()
// (parsed with a SerializationContext targeting the card's declared version, maxVersion 1.5), plus
// required properties the SDK accepts silently and no Action.Submit (webhooks cannot receive it).
"use strict";
const readline = require("readline");
const path = require("path");
const AC = require(path.join(__dirname, "..", "..", "..", "node_modules", "adaptivecards", "dist", "adaptivecards.js"));

const MAX_BODY_BYTES = 28672;
const MAX_VERSION = AC.Versions.v1_5;
const REQUIRED = { TextBlock: ["text"], TextRun: ["text"], RichTextBlock: ["inlines"], Image: ["url"],
  FactSet: ["facts"], Container: ["items"], ColumnSet: [], Column: [], "Action.OpenUrl": ["url"],
  "Action.ToggleVisibility": ["targetElements"] };

function check(bodyText) {
  const problems = [];
  const add = (where, msg) => problems.push(`${where}: ${msg}`);
  const bytes = Buffer.byteLength(bodyText, "utf8");
  if (bytes > MAX_BODY_BYTES) add("/", `POST body is ${bytes} bytes, over the ${MAX_BODY_BYTES}-byte Teams limit`);
  let doc;
  try { doc = JSON.parse(bodyText); } catch (e) { add("/", `not JSON: ${e.message}`); return problems; }
  if (!doc || doc.type !== "message") { add("/type", `expected "message", got ${JSON.stringify(doc && doc.type)}`); return problems; }
  const att = Array.isArray(doc.attachments) ? doc.attachments : [];
  if (att.length !== 1) add("/attachments", `expected exactly 1 attachment, got ${att.length}`);
  const a = att[0] || {};
  if (a.contentType !== "application/vnd.microsoft.card.adaptive") add("/attachments/0/contentType", `unexpected ${JSON.stringify(a.contentType)}`);
  const card = a.content;
  if (!card || typeof card !== "object") { add("/attachments/0/content", "missing card object"); return problems; }
  if (card.type !== "AdaptiveCard") add("/type", `expected "AdaptiveCard", got ${JSON.stringify(card.type)}`);

  // The SDK's own version parser is unanchored ("1.5.x" parses as 1.5): check strictly first.
  let target = MAX_VERSION;
  if (typeof card.version !== "string" || !/^\d+\.\d+$/.test(card.version)) {
    add("/version", `must be "major.minor", got ${JSON.stringify(card.version)}`);
  } else {
    const v = AC.Version.parse(card.version, new AC.SerializationContext());
    if (!v || !v.isValid) add("/version", `invalid ${card.version}`);
    else if (v.compareTo(MAX_VERSION) > 0) add("/version", `${card.version} is newer than ${MAX_VERSION.toString()}`);
    else target = v;
  }

  const ac = new AC.AdaptiveCard();
  ac.maxVersion = MAX_VERSION;
  const ctx = new AC.SerializationContext(target);
  ac.parse(card, ctx);
  const where = (s) => (s && s.getJsonTypeName ? s.getJsonTypeName() + (s.id ? `#${s.id}` : "") : "card");
  for (let i = 0; i < ctx.eventCount; i++) {
    const e = ctx.getEventAt(i);
    add(where(e.source), `${AC.ValidationEvent[e.event]}: ${e.message}`);
  }
  for (const e of ac.validateProperties().validationEvents) add(where(e.source), `${AC.ValidationEvent[e.event]}: ${e.message}`);

  // What the SDK accepts without an event: missing required values, wrong types, Action.Submit.
  const ids = new Set();
  (function walk(node, p) {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${p}/${i}`));
    if (!node || typeof node !== "object") return;
    for (const k of REQUIRED[node.type] || []) {
      const v = node[k];
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) add(p, `${node.type}: required property "${k}" missing or empty`);
    }
    if (/\/facts\/\d+$/.test(p)) for (const k of ["title", "value"]) if (typeof node[k] !== "string") add(p, `Fact: "${k}" must be a string`);
    for (const k of ["wrap", "isSubtle", "separator", "isVisible", "italic", "strikethrough", "highlight", "underline"])
      if (k in node && typeof node[k] !== "boolean") add(p, `${node.type}: "${k}" must be a boolean`);
    if (node.type === "Action.Submit" || node.type === "Action.Execute") add(p, `${node.type} is not supported in webhook-posted cards`);
    if (typeof node.id === "string" && node.type && !node.type.startsWith("Action.")) ids.add(node.id);
    for (const [k, v] of Object.entries(node)) if (v && typeof v === "object") walk(v, `${p}/${k}`);
  })(card, "");
  (function targets(node, p) {
    if (Array.isArray(node)) return node.forEach((n, i) => targets(n, `${p}/${i}`));
    if (!node || typeof node !== "object") return;
    if (node.type === "Action.ToggleVisibility")
      for (const t of node.targetElements || []) {
        const id = typeof t === "string" ? t : t && t.elementId;
        if (!ids.has(id)) add(p, `Action.ToggleVisibility targets unknown element ${JSON.stringify(id)}`);
      }
    for (const [k, v] of Object.entries(node)) if (v && typeof v === "object") targets(v, `${p}/${k}`);
  })(card, "");
  return problems;
}

if (process.argv.length > 2) {
  // File mode: node validate-cards.js a.json b.json ...
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    const problems = check(require("fs").readFileSync(f, "utf8"));
    problems.forEach((p) => console.log(`${f}: ${p}`));
    if (problems.length) bad++; else console.log(`${f}: OK`);
  }
  process.exit(bad ? 1 : 0);
} else {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on("line", (line) => {
    let id = null;
    try {
      const req = JSON.parse(line);
      id = req.id;
      process.stdout.write(JSON.stringify({ id, problems: check(req.body) }) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ id, problems: [`validator error: ${e.message}`] }) + "\n");
    }
  });
}
