// How the layers below trellisd report events: a level and one line of
// text. Where the lines go, in which format and from which level on is the
// daemon's choice (daemon/logger.h); an empty LogFn drops them.
#pragma once

#include <functional>
#include <string>

namespace trellis {

enum class LogLevel { debug, info, warn, error };

using LogFn = std::function<void(LogLevel, const std::string&)>;

}  // namespace trellis
