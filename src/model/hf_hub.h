// base_model: org/name, a Hugging Face hub id as axolotl configs write it, resolved to the
// local Hugging Face cache the way transformers resolves it offline. Nothing is downloaded.
//   cache folders, in order: $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
//                            ~/.cache/huggingface/hub
//   the model:               <cache>/models--org--name/snapshots/<the commit in refs/main>
#pragma once

#include <string>

namespace ringlm {

// "org/name" (one slash, hub characters, not a .bin/.h5 file name) that is not a path that exists.
bool is_hub_model_id(const std::string& path);
// The snapshot folder of a hub id; throws, naming the folders searched and the command that
// would fetch it (huggingface-cli download org/name), when it is not in any of them.
std::string resolve_hub_model(const std::string& id);
// `path` itself, or the snapshot folder when it is a hub id.
std::string resolve_base_model_path(const std::string& path);

}  // namespace ringlm
