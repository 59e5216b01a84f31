import { openStore } from "../../src/store/index.js";
import { storeContract } from "./contract.js";
import { tempStorePath } from "./helpers.js";

storeContract("SQLite", {
  fresh: () => openStore(tempStorePath()),
  reopen: (s) => openStore(s.location),
});
