/** Unit tests are *.test.ts; tests that drive a real libvirtd are *.int.test.ts. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/provider", "<rootDir>/sdk", "<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 120000,
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
};
