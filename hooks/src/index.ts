import { ABI_VERSION } from "./protocol.js";

rpc.exports = {
    abiVersion(): number {
        return ABI_VERSION;
    },
};
