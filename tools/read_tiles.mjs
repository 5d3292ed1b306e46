// An independent reader of a 3D Tiles 1.1 tileset with glb content, for QDT's tests: glTF-Transform
// decodes each glb, proj4js turns its Earth-centred positions into longitude/latitude/height.
// Usage: node tools/read_tiles.mjs DIR/tileset.json ; prints one JSON object:
// {tiles, contents, features, triangles, vertices, outside_region, lonlat_min, lonlat_max, layers: {name: features}}
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Logger, NodeIO } from "@gltf-transform/core";
import proj4 from "proj4";

const ecefToGeo = proj4("+proj=geocent +ellps=WGS84 +units=m +no_defs", "+proj=longlat +ellps=WGS84 +no_defs");
const file = process.argv[2];
const dir = path.dirname(file);
const tileset = JSON.parse(await readFile(file, "utf8"));
const io = new NodeIO().setLogger(new Logger(Logger.Verbosity.ERROR)); // EXT_* are not its business
const out = { tiles: 0, contents: 0, features: 0, triangles: 0, vertices: 0, outside_region: 0,
  lonlat_min: [Infinity, Infinity, Infinity], lonlat_max: [-Infinity, -Infinity, -Infinity], layers: {} };
const RAD = 180 / Math.PI;

async function visit(tile) {
  out.tiles += 1;
  const contents = tile.content ? [tile.content] : (tile.contents || []);
  for (const content of contents) {
    out.contents += 1;
    const bytes = await readFile(path.join(dir, content.uri));
    const doc = await io.readBinary(new Uint8Array(bytes));
    const region = tile.boundingVolume.region;
    const root = doc.getRoot();
    for (const scene of root.listScenes()) {
      scene.traverse((node) => {
        const mesh = node.getMesh();
        if (!mesh) return;
        const m = node.getWorldMatrix(); // column-major 4x4, glTF (y-up) frame
        const ids = new Set();
        for (const prim of mesh.listPrimitives()) {
          const pos = prim.getAttribute("POSITION");
          const fid = prim.getAttribute("_FEATURE_ID_0");
          const idx = prim.getIndices();
          out.triangles += (idx ? idx.getCount() : pos.getCount()) / 3;
          out.vertices += pos.getCount();
          const p = [0, 0, 0];
          for (let i = 0; i < pos.getCount(); i++) {
            pos.getElement(i, p);
            const gx = m[0] * p[0] + m[4] * p[1] + m[8] * p[2] + m[12];
            const gy = m[1] * p[0] + m[5] * p[1] + m[9] * p[2] + m[13];
            const gz = m[2] * p[0] + m[6] * p[1] + m[10] * p[2] + m[14];
            // 3D Tiles: glTF y-up to z-up, (x, y, z) -> (x, -z, y)
            const [lon, lat, h] = ecefToGeo.forward([gx, -gz, gy]);
            const geo = [lon, lat, h];
            for (let k = 0; k < 3; k++) {
              out.lonlat_min[k] = Math.min(out.lonlat_min[k], geo[k]);
              out.lonlat_max[k] = Math.max(out.lonlat_max[k], geo[k]);
            }
            const eps = 1e-9;
            if (lon / RAD < region[0] - eps || lon / RAD > region[2] + eps || lat / RAD < region[1] - eps
                || lat / RAD > region[3] + eps || h < region[4] - 0.01 || h > region[5] + 0.01) out.outside_region += 1;
            if (fid) ids.add(fid.getScalar(i));
          }
        }
        const name = node.getName();
        out.layers[name] = (out.layers[name] || 0) + ids.size;
        out.features += ids.size;
      });
    }
  }
  for (const child of tile.children || []) await visit(child);
}

await visit(tileset.root);
console.log(JSON.stringify(out));
