// Jest 29 runs the tests as CommonJS and cannot load an ES module from node_modules; Node.js 24 itself loads them
// with require(). @kubernetes/client-node 1.x and the ESM-only packages it imports (openid-client, oauth4webapi,
// jose) are turned into CommonJS for jest alone, by swc (already a dependency of the program).
const { transformSync } = require('@swc/core');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      filename,
      sourceMaps: true,
      swcrc: false,
      configFile: false,
      jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } },
      module: { type: 'commonjs', ignoreDynamic: false },
    });
    return { code, map };
  },
};
