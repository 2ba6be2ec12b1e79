// Entry point of the plugin: the language host requires this directory, which starts the server.
require("../bin/provider/plugin/server").serve();
