#include "metadata.hpp"

#include <algorithm>

namespace saml {

std::vector<EVP_PKEY*> IdpDescriptor::signing_keys() const {
    std::vector<EVP_PKEY*> keys;
    keys.reserve(signing.size());
    for (const auto& trusted : signing) keys.push_back(trusted.public_key.get());
    return keys;
}

const Endpoint* IdpDescriptor::find_endpoint(const std::vector<Endpoint>& endpoints, std::string_view binding) const {
    const Endpoint* first = nullptr;
    for (const auto& endpoint : endpoints) {
        if (endpoint.binding != binding) continue;
        if (endpoint.is_default) return &endpoint;
        if (first == nullptr) first = &endpoint;
    }
    return first;
}

std::shared_ptr<const IdpDescriptor> IdpRegistry::find(std::string_view entity_id) const {
    auto found = by_entity_id_.find(std::string(entity_id));
    return found == by_entity_id_.end() ? nullptr : found->second;
}

void IdpRegistry::add(std::shared_ptr<const IdpDescriptor> idp) { by_entity_id_[idp->entity_id] = std::move(idp); }

std::vector<std::string> IdpRegistry::entity_ids() const {
    std::vector<std::string> ids;
    for (const auto& entry : by_entity_id_) ids.push_back(entry.first);
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace saml
