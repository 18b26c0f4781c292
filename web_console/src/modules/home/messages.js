// zh-CN and en carry the same keys.
const zh = {
  home: {
    dash: {
      counts: {
        alarms_this_year: '本年接警',
        incidents_this_year: '本年突发事件',
        in_progress: '正在处置',
        closed_this_year: '本年已办结',
      },
      countsHint: '{year} 年累计',
      warnings: '生效预警',
      incidents: '处置中事件',
      duty: '今日值班',
      more: '更多',
      none: '暂无',
      unavailable: '该功能尚未启用',
      levels: { blue: '蓝色', yellow: '黄色', orange: '橙色', red: '红色' },
      rag: { red: '红', amber: '黄', green: '绿' },
      ragTitle: { red: '严重滞后或升级', amber: '需关注', green: '按计划推进' },
      total: '共 {n} 条',
    },
  },
}

const en = {
  home: {
    dash: {
      counts: {
        alarms_this_year: 'Alarms this year',
        incidents_this_year: 'Incidents this year',
        in_progress: 'In progress',
        closed_this_year: 'Closed this year',
      },
      countsHint: 'Total for {year}',
      warnings: 'Open warnings',
      incidents: 'Open incidents',
      duty: 'On duty today',
      more: 'More',
      none: 'None',
      unavailable: 'Not available yet',
      levels: { blue: 'Blue', yellow: 'Yellow', orange: 'Orange', red: 'Red' },
      rag: { red: 'R', amber: 'A', green: 'G' },
      ragTitle: { red: 'Off track or escalating', amber: 'Needs attention', green: 'On track' },
      total: '{n} in total',
    },
  },
}

export default { 'zh-CN': zh, en }
