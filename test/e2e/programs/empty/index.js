// Intentionally empty: `pulumi import` adds resources to this stack's state without the program.
require("@pulumi/pulumi");
