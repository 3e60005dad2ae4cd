// gatewatch monitoring mixin: recording rules, alerts and dashboards for a generative-AI gateway.
//
//   local gatewatch = (import 'gatewatch-mixin/mixin.libsonnet') + {
//     _config+:: { gatewatchSelector: 'namespace="ai-gateway"' },
//   };
//   { groups: gatewatch.prometheusRules.groups + gatewatch.prometheusAlerts.groups }
//
// The rules and dashboards are generated from the organisation's gatewatch spec (generate.py);
// _config (config.libsonnet) holds what differs between the clusters that run them.
local rules = import 'rules.libsonnet';
local dashboards = import 'dashboards.libsonnet';

(import 'config.libsonnet') + {
  local selector = $._config.gatewatchSelector,
  // Thresholds print as the generator prints them: '%g' (20, 0.25), and in some expressions as
  // Python's repr (60.0).
  local shown(x) = std.format('%g', x),
  local repr(x) = local text = std.format('%.12g', x);
    if std.length(std.findSubstr('.', text)) > 0 || std.length(std.findSubstr('e', text)) > 0 then text else text + '.0',
  local thresholds = $._config.thresholds,
  local cfg = $._config + { [name]: shown(thresholds[name]) for name in std.objectFields(thresholds) }
              + { [name + 'Repr']: repr(thresholds[name]) for name in std.objectFields(thresholds) } {
    gatewatchSelectorBraces: if selector == '' then '' else '{%s}' % selector,
    gatewatchSelectorPrefix: if selector == '' then '' else selector + ', ',
  },

  local withDatasource(board) =
    if $._config.datasource == '' then board
    else board {
      templating+: {
        list: [
          if variable.type == 'datasource'
          then variable { current: { text: $._config.datasource, value: $._config.datasource } }
          else variable
          for variable in super.list
        ],
      },
    },

  local generated = rules(cfg),
  prometheusRules+:: { groups+: generated.recording },
  prometheusAlerts+:: { groups+: generated.alerts },
  local boards = dashboards(cfg),
  grafanaDashboards+:: { [name]: withDatasource(boards[name]) for name in std.objectFields(boards) },
}
