// Plan library (CMD-2, PRE-6): search, detail, versions and diff, edit, import; PlanMatchPanel for incidents.
const types = {
  'zh-CN': { water: '水污染', air: '大气污染', soil: '土壤污染', hazchem_leak: '危险化学品泄漏', hazardous_waste: '危险废物', radiation: '辐射', fire_explosion: '火灾爆炸次生污染', other: '其他' },
  en: { water: 'Water pollution', air: 'Air pollution', soil: 'Soil pollution', hazchem_leak: 'Hazardous chemical leak', hazardous_waste: 'Hazardous waste', radiation: 'Radiation', fire_explosion: 'Fire / explosion', other: 'Other' },
}
const roles = {
  'zh-CN': { leader: '带班领导', officer: '值班员', driver: '驾驶员', monitor: '监测员', expert: '专家', liaison: '联络员', admin: '系统管理员', commander: '指挥长', operator: '值班操作员', field: '现场处置员', pilot: '无人机飞手' },
  en: { leader: 'Shift leader', officer: 'Duty officer', driver: 'Driver', monitor: 'Monitoring staff', expert: 'Expert', liaison: 'Liaison', admin: 'Administrator', commander: 'Commander', operator: 'Operator', field: 'Field responder', pilot: 'Drone pilot' },
}

export default {
  key: 'plans',
  perm: 'plans:read',
  view: () => import('./PlansView.vue'),
  messages: {
    'zh-CN': {
      plans: {
        title: '预案库', search: '搜索预案（如：氨气泄漏）', type: '事件类型', level: '级别', kind: '类别', all: '全部',
        new: '新建预案', edit: '编辑', retire: '停用', import: '导入', template: '下载模板', export: '导出JSON',
        versions: '版本历史', diff: '版本对比', compare: '对比', current: '当前', version: '第{v}版', score: '相关度',
        steps: '响应步骤', guide: '处置要点', pollutants: '污染物', area: '适用区域', districts: '适用区县', polygon: '适用范围（GeoJSON）',
        notifications: '通知名单', resources: '所需资源', attachments: '附件', issuingUnit: '发布单位', code: '预案编号',
        name: '预案名称', levels: '适用级别', eventTypes: '适用事件类型', order: '序号', action: '处置措施',
        responsible: '责任方', role: '角色', unit: '单位', deadline: '时限（分钟）', addStep: '添加步骤', addPollutant: '添加污染物',
        addResource: '添加资源', resourceType: '资源类型', quantity: '数量', resourceUnit: '单位', users: '用户ID', roles: '角色',
        units: '单位', changeNote: '修改说明', save: '保存', cancel: '取消', noPlans: '暂无预案', updatedAt: '更新时间',
        retireConfirm: '停用预案“{title}”？停用后不参与匹配，历史版本保留。', saved: '预案已保存（第{v}版）', retired: '预案已停用',
        importTitle: '导入预案（JSON / XLSX）', importHint: 'XLSX 含“预案”“步骤”“通知”三个工作表；JSON 可为单个预案、预案数组或含 plans 数组的对象',
        imported: '成功导入 {n} 个预案', importErrors: '以下行存在问题', sheet: '工作表', row: '行', field: '字段', message: '问题',
        noChanges: '两个版本内容相同', before: '修改前', after: '修改后', added: '新增', removed: '删除', changed: '修改',
        upload: '上传附件', cas: 'CAS号', by: '修改人',
        kinds: { comprehensive: '综合', special: '专项', department: '部门', enterprise: '企业' },
        types: types['zh-CN'], roleNames: roles['zh-CN'],
        match: {
          title: '预案匹配', refresh: '重新匹配', empty: '没有可匹配的预案', start: '启动应急响应', starting: '正在启动…',
          confirm: '依据《{title}》启动应急响应？将创建 {n} 项任务、按事件级别发送通知，并将事件转为“响应中”。',
          confirmTitle: '确认启动', started: '应急响应已启动', tasks: '已创建任务', notified: '已通知', due: '期限', assignee: '指派',
          warnings: '提示', factors: { type: '类型', pollutant: '污染物', level: '级别', area: '区域', text: '文本' },
        },
      },
    },
    en: {
      plans: {
        title: 'Plan library', search: 'Search plans (e.g. 氨气泄漏)', type: 'Event type', level: 'Level', kind: 'Kind', all: 'All',
        new: 'New plan', edit: 'Edit', retire: 'Retire', import: 'Import', template: 'Template', export: 'Export JSON',
        versions: 'Versions', diff: 'Compare versions', compare: 'Compare', current: 'current', version: 'v{v}', score: 'Relevance',
        steps: 'Response steps', guide: 'Operating guide', pollutants: 'Pollutants', area: 'Area', districts: 'Districts', polygon: 'Area (GeoJSON)',
        notifications: 'Notification lists', resources: 'Required resources', attachments: 'Attachments', issuingUnit: 'Issuing unit', code: 'Code',
        name: 'Title', levels: 'Levels', eventTypes: 'Event types', order: 'No.', action: 'Action',
        responsible: 'Responsible', role: 'Role', unit: 'Unit', deadline: 'Deadline (min)', addStep: 'Add step', addPollutant: 'Add pollutant',
        addResource: 'Add resource', resourceType: 'Resource', quantity: 'Quantity', resourceUnit: 'Unit', users: 'User IDs', roles: 'Roles',
        units: 'Units', changeNote: 'Change note', save: 'Save', cancel: 'Cancel', noPlans: 'No plans', updatedAt: 'Updated',
        retireConfirm: 'Retire plan "{title}"? It leaves matching; its history is kept.', saved: 'Plan saved (v{v})', retired: 'Plan retired',
        importTitle: 'Import plans (JSON / XLSX)', importHint: 'XLSX with sheets 预案, 步骤, 通知; JSON: one plan, a list, or an object with a plans list',
        imported: '{n} plan(s) imported', importErrors: 'Problems found', sheet: 'Sheet', row: 'Row', field: 'Field', message: 'Problem',
        noChanges: 'The versions are identical', before: 'Before', after: 'After', added: 'added', removed: 'removed', changed: 'changed',
        upload: 'Upload attachment', cas: 'CAS', by: 'By',
        kinds: { comprehensive: 'Comprehensive', special: 'Special', department: 'Department', enterprise: 'Enterprise' },
        types: types.en, roleNames: roles.en,
        match: {
          title: 'Plan matching', refresh: 'Match again', empty: 'No plan to match', start: 'Start response', starting: 'Starting…',
          confirm: 'Start the response from "{title}"? {n} task(s) will be created, the level\'s notifications sent and the incident moved to responding.',
          confirmTitle: 'Confirm', started: 'Response started', tasks: 'Tasks created', notified: 'Notified', due: 'Due', assignee: 'Assignee',
          warnings: 'Notes', factors: { type: 'Type', pollutant: 'Pollutant', level: 'Level', area: 'Area', text: 'Text' },
        },
      },
    },
  },
}
