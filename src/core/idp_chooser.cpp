#include "idp_chooser.hpp"

#include "crypto.hpp"
#include "encoding.hpp"
#include "xml.hpp"

#include <algorithm>

namespace saml {

namespace {

// Constant, so the Content-Security-Policy can name it by hash. Filters the list as the user
// types; Enter in the search box continues with the first match when the whole list is on the
// page (otherwise it submits the search to the server); the arrow keys move between the box
// and the links, which are also reachable with Tab.
constexpr const char* kScript = R"JS(
(function () {
  var input = document.getElementById('idp-search');
  var list = document.getElementById('idp-list');
  var count = document.getElementById('idp-count');
  if (!input || !list || !count) return;
  var items = Array.prototype.slice.call(list.getElementsByTagName('li'));
  var complete = list.getAttribute('data-complete') === 'true';
  var total = list.getAttribute('data-total');
  function shown() { return items.filter(function (li) { return !li.hidden; }); }
  function link(li) { return li.getElementsByTagName('a')[0]; }
  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(function (w) { return w; });
    var matches = 0;
    items.forEach(function (li) {
      var text = li.textContent.toLowerCase();
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      li.hidden = !match;
      if (match) matches++;
    });
    count.textContent = matches + ' of ' + total + ' shown' +
      (complete ? '' : '; press Enter to search them all');
  }
  input.addEventListener('input', filter);
  input.addEventListener('keydown', function (e) {
    var visible = shown();
    if (e.key === 'ArrowDown' && visible.length) {
      e.preventDefault();
      link(visible[0]).focus();
    } else if (e.key === 'Enter' && complete && visible.length) {
      e.preventDefault();
      window.location.href = link(visible[0]).href;
    }
  });
  list.addEventListener('keydown', function (e) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    var visible = shown();
    var li = e.target;
    while (li && li.tagName !== 'LI') li = li.parentNode;
    var at = visible.indexOf(li);
    if (at < 0) return;
    e.preventDefault();
    if (e.key === 'ArrowDown' && at + 1 < visible.length) link(visible[at + 1]).focus();
    else if (e.key === 'ArrowUp') (at > 0 ? link(visible[at - 1]) : input).focus();
  });
})();
)JS";

constexpr const char* kStyle =
    "body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}"
    "#idp-list{list-style:none;padding:0}#idp-list li{margin:.4em 0;padding:.4em;border:1px solid #ccc}"
    "#idp-list a{font-size:1.1em}#idp-list small{display:block;color:#555;overflow-wrap:anywhere}"
    ".idp-last{background:#eef}input[type=search]{font-size:1em;padding:.3em;width:70%}"
    "a:focus,input:focus,button:focus{outline:3px solid #36c}";

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string folded(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = fold(c);
    return out;
}

std::vector<std::string> words_of(std::string_view query) {
    std::vector<std::string> words;
    std::size_t pos = 0;
    while (pos < query.size()) {
        while (pos < query.size() && (query[pos] == ' ' || query[pos] == '\t')) ++pos;
        std::size_t end = pos;
        while (end < query.size() && query[end] != ' ' && query[end] != '\t') ++end;
        if (end > pos) words.push_back(folded(query.substr(pos, end - pos)));
        pos = end;
    }
    return words;
}

bool matches_words(const ChooserIdp& idp, const std::vector<std::string>& words) {
    if (words.empty()) return true;
    const std::string haystack = folded(idp.name) + "\n" + folded(idp.entity_id);
    return std::all_of(words.begin(), words.end(),
                       [&](const std::string& word) { return haystack.find(word) != std::string::npos; });
}

std::string choice_url(const ChooserRequest& request, const std::string& entity_id) {
    return request.sso_path + "?idp=" + url_encode(entity_id) + "&ReturnTo=" + url_encode(request.return_to) +
           (request.force_authn ? "&ForceAuthn=1" : "") + (request.is_passive ? "&IsPassive=1" : "");
}

void item(std::string& out, const ChooserRequest& request, const ChooserIdp& idp, bool last_used) {
    out += last_used ? "<li class=\"idp-last\">" : "<li>";
    out += "<a href=\"" + xml_escape(choice_url(request, idp.entity_id)) + "\">" + xml_escape(idp.name) + "</a>";
    if (last_used) out += " <strong>(last used)</strong>";
    if (idp.name != idp.entity_id) out += "<small>" + xml_escape(idp.entity_id) + "</small>";
    out += "</li>\n";
}

// Search text is the user's own, but bounded (at a UTF-8 character boundary) before it is
// echoed or searched for.
std::string bounded_query(std::string_view query) {
    constexpr std::size_t max_bytes = 200;
    if (query.size() <= max_bytes) return std::string(query);
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(query[cut]) & 0xc0) == 0x80) --cut;
    return std::string(query.substr(0, cut));
}

std::string plural(std::size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

std::string csp_hash(std::string_view text) { return "'sha256-" + base64_encode(sha256(text)) + "'"; }

}  // namespace

std::vector<ChooserIdp> chooser_idps(const IdpRegistry& idps) {
    // Built per page from the registry in use (metadata refreshes may change it): fold each
    // name once, not in every comparison.
    struct Keyed {
        std::string key;
        ChooserIdp idp;
    };
    std::vector<Keyed> keyed;
    const auto ids = idps.entity_ids();
    keyed.reserve(ids.size());
    for (const auto& entity_id : ids) {
        const auto summary = idps.summary(entity_id);  // not find(): that would read every lazily kept IdP
        std::string name = summary && !summary->display_name.empty() ? summary->display_name : entity_id;
        keyed.push_back({folded(name), {entity_id, std::move(name)}});
    }
    std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
        return a.key != b.key ? a.key < b.key : a.idp.entity_id < b.idp.entity_id;
    });
    std::vector<ChooserIdp> out;
    out.reserve(keyed.size());
    for (auto& entry : keyed) out.push_back(std::move(entry.idp));
    return out;
}

bool chooser_matches(const ChooserIdp& idp, std::string_view query) { return matches_words(idp, words_of(query)); }

std::string render_idp_chooser(const ChooserRequest& request) {
    static const std::vector<ChooserIdp> none;
    const std::vector<ChooserIdp>& idps = request.idps ? *request.idps : none;
    const std::string query = bounded_query(request.query);
    const std::vector<std::string> words = words_of(query);

    // The remembered IdP first, when it is still configured and matches the search.
    const ChooserIdp* remembered = nullptr;
    for (const auto& idp : idps)
        if (!request.remembered.empty() && idp.entity_id == request.remembered && matches_words(idp, words)) remembered = &idp;
    std::vector<const ChooserIdp*> matching;
    if (remembered) matching.push_back(remembered);
    for (const auto& idp : idps)
        if (&idp != remembered && matches_words(idp, words)) matching.push_back(&idp);
    const std::size_t listed = std::min(matching.size(), request.max_listed);
    const bool complete = words.empty() && listed == idps.size();

    std::string out =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\">"
        "<title>Choose where to log in</title><style>";
    out += kStyle;
    out += "</style></head>\n<body><main>\n<h1>Choose where to log in</h1>\n"
           "<p>This site accepts logins from several organisations. Choose the one that holds your account.</p>\n"
           "<form id=\"idp-search-form\" method=\"get\" action=\"" + xml_escape(request.sso_path) + "\" role=\"search\">\n"
           "<input type=\"hidden\" name=\"ReturnTo\" value=\"" + xml_escape(request.return_to) + "\">\n";
    if (request.force_authn) out += "<input type=\"hidden\" name=\"ForceAuthn\" value=\"1\">\n";
    if (request.is_passive) out += "<input type=\"hidden\" name=\"IsPassive\" value=\"1\">\n";
    out += "<label for=\"idp-search\">Search for your organisation</label><br>\n"
           "<input type=\"search\" id=\"idp-search\" name=\"q\" value=\"" + xml_escape(query) +
           "\" autocomplete=\"off\" autofocus aria-controls=\"idp-list\" aria-describedby=\"idp-count\">\n"
           "<button type=\"submit\">Search</button>\n</form>\n";

    out += "<p id=\"idp-count\" aria-live=\"polite\">";
    if (words.empty())
        out += plural(idps.size(), "identity provider", "identity providers");
    else
        out += std::to_string(matching.size()) + " of " + plural(idps.size(), "identity provider", "identity providers") +
               " match &#8220;" + xml_escape(query) + "&#8221;";
    if (listed < matching.size()) out += "; the first " + std::to_string(listed) + " are listed";
    out += "</p>\n";

    out += "<ul id=\"idp-list\" data-total=\"" + std::to_string(idps.size()) + "\" data-complete=\"" +
           (complete ? "true" : "false") + "\">\n";
    for (std::size_t i = 0; i < listed; ++i) item(out, request, *matching[i], matching[i] == remembered);
    out += "</ul>\n";

    if (matching.empty())
        out += "<p id=\"idp-none\">No identity provider matches. Try another part of your organisation's name.</p>\n";
    if (listed < matching.size())
        out += "<p id=\"idp-more\">" + plural(matching.size() - listed, "more is", "more are") +
               " not listed: type part of your organisation's name and press Search.</p>\n";
    out += "<script>";
    out += kScript;
    out += "</script>\n</main></body></html>\n";
    return out;
}

std::string idp_chooser_csp() {
    return "default-src 'none'; script-src " + csp_hash(kScript) + "; style-src " + csp_hash(kStyle) +
           "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
}

}  // namespace saml
