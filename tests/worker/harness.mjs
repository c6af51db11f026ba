// Runs the README's Worker code in workerd (through miniflare) for tests/test_worker_probe.py.
// argv: MINIFLARE_DIR MODULES_DIR PROVIDER_ADDRESS (host:port of the loopback provider).
// Keys come in the environment (KT_KEY_SERVING, KT_KEY_UNKNOWN), never on the command line.
// Prints one JSON line {worker name: base URL}, then serves until stdin closes.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const [miniflareDir, modulesDir, providerAddress] = process.argv.slice(2);
const { Miniflare } = createRequire(join(miniflareDir, "package.json"))("miniflare");

const module = (name) => ({
  type: "ESModule", path: join(modulesDir, name), contents: readFileSync(join(modulesDir, name), "utf8"),
});
// Every outbound fetch goes to the loopback provider over plain HTTP; "offline" has nothing
// listening at its address, so its fetch throws as it does when Anthropic cannot be reached.
const upstream = (address) => ({ external: { address, http: {} } });
const base = { compatibilityDate: "2024-09-23", unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] };
const serving = process.env.KT_KEY_SERVING;
const workers = [
  { name: "whole", modules: [module("keyturn-probe.js")], key: serving, to: providerAddress },
  { name: "existing", modules: [module("worker.js"), module("keyturn-probe.js")], key: serving,
    to: providerAddress },
  { name: "refused", modules: [module("keyturn-probe.js")], key: process.env.KT_KEY_UNKNOWN,
    to: providerAddress },
  { name: "offline", modules: [module("keyturn-probe.js")], key: serving,
    to: process.env.KT_CLOSED_ADDRESS },
];
const mf = new Miniflare({
  workers: workers.map(({ name, modules, key, to }) => ({
    ...base, name, modules, modulesRoot: modulesDir, bindings: { ANTHROPIC_API_KEY: key },
    outboundService: upstream(to),
  })),
});
await mf.ready;
const urls = {};
for (const { name } of workers) urls[name] = String(await mf.unsafeGetDirectURL(name));
process.stdout.write(JSON.stringify(urls) + "\n");
process.stdin.resume();
process.stdin.on("end", async () => { await mf.dispose(); process.exit(0); });
