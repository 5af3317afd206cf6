// Validates every Gateway API object of rendered manifests against the
// Gateway API's schemas (the @kubernetes-models/gateway-api package, made
// from the API's Go types), run from the directory its packages are
// installed in. Usage: node validate-gateway-api.mjs FILE...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(process.cwd() + "/");
const yaml = require("js-yaml");
const GROUP = "gateway.networking.k8s.io/";

let checked = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const object of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (!object || !String(object.apiVersion).startsWith(GROUP)) continue;
    const version = object.apiVersion.slice(GROUP.length);
    const models = await import(
      pathToFileURL(
        join(process.cwd(), "node_modules/@kubernetes-models/gateway-api/gateway.networking.k8s.io", version, "index.js"),
      ).href
    );
    const Model = models[object.kind];
    const name = `${object.kind} ${object.metadata?.name} (${object.apiVersion})`;
    if (!Model) {
      console.error(`${file}: ${name}: no such kind in the Gateway API`);
      failed++;
      continue;
    }
    try {
      new Model(object).validate();
      checked++;
    } catch (error) {
      console.error(`${file}: ${name}: ${error.message}`);
      failed++;
    }
  }
}
console.log(`${checked} Gateway API objects valid, ${failed} not`);
process.exit(failed === 0 && checked > 0 ? 0 : 1);
