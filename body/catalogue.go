package body

import "sort"

// entry is one label or code name in the six languages.
type entry struct{ ar, zh, en, fr, ru, es string }

// catalogue holds every label and code name of the templates, keyed
// "kind.<kind>", "severity.<severity>", "field.<field>", "label.<name>",
// "language.<code>" and "<vocabulary>.<code>". It is read-only. Arabic
// strings are stored in logical order; Render adds the directional marks.
var catalogue = map[string]entry{
	// Message kinds (docs/DESIGN.md §3).
	"kind.notification": {"إخطار", "通报", "Notification", "Notification", "Уведомление", "Notificación"},
	"kind.assistance_request": {"طلب مساعدة", "援助请求", "Request for assistance", "Demande d'assistance",
		"Запрос о помощи", "Solicitud de asistencia"},
	"kind.mitigation_request": {"طلب اتخاذ تدابير للتخفيف", "缓解请求", "Request for mitigation", "Demande d'atténuation",
		"Запрос о принятии мер по смягчению", "Solicitud de mitigación"},
	"kind.clarification_request": {"طلب توضيح", "澄清请求", "Request for clarification", "Demande d'éclaircissements",
		"Запрос о разъяснении", "Solicitud de aclaración"},
	"kind.consultation_request": {"طلب إجراء مشاورات", "磋商请求", "Request for consultations", "Demande de consultations",
		"Запрос о проведении консультаций", "Solicitud de consultas"},
	"kind.advance_notice": {"إخطار مسبق", "事先通知", "Advance notice", "Préavis", "Предварительное уведомление", "Aviso previo"},
	"kind.advisory": {"نشرة معلومات", "安全公告", "Advisory", "Bulletin d'information", "Информационный бюллетень",
		"Boletín informativo"},
	"kind.complaint":     {"شكوى", "申诉", "Complaint", "Plainte", "Жалоба", "Reclamación"},
	"kind.ping":          {"اختبار جهة الاتصال", "联络测试", "Contact test", "Test de contact", "Проверка связи", "Prueba de contacto"},
	"kind.ack":           {"إقرار بالاستلام", "确认收到", "Acknowledgement", "Accusé de réception", "Подтверждение получения", "Acuse de recibo"},
	"kind.response":      {"رد", "答复", "Response", "Réponse", "Ответ", "Respuesta"},
	"kind.status_update": {"تحديث الحالة", "进展更新", "Status update", "Point de situation", "Обновление статуса", "Actualización de situación"},
	"kind.closure":       {"إغلاق", "结案", "Closure", "Clôture", "Закрытие", "Cierre"},
	"kind.retraction":    {"سحب", "撤回", "Retraction", "Retrait", "Отзыв", "Retirada"},

	// Severities.
	"severity.low":      {"منخفضة", "低", "Low", "Faible", "Низкая", "Baja"},
	"severity.medium":   {"متوسطة", "中", "Medium", "Moyenne", "Средняя", "Media"},
	"severity.high":     {"عالية", "高", "High", "Élevée", "Высокая", "Alta"},
	"severity.critical": {"حرجة", "危急", "Critical", "Critique", "Критическая", "Crítica"},

	// Field labels.
	"field.language": {"لغة النص", "正文语言", "Language of the text", "Langue du texte", "Язык текста", "Idioma del texto"},
	"field.title":    {"العنوان", "标题", "Title", "Titre", "Заголовок", "Título"},
	"field.summary":  {"الملخص", "摘要", "Summary", "Résumé", "Краткое изложение", "Resumen"},
	"field.incident": {"الفترة الزمنية للحادث", "事件时间范围", "Incident window", "Période de l'incident", "Период инцидента",
		"Periodo del incidente"},
	"field.activity": {"النشاط المزمع", "计划中的活动", "Planned activity", "Activité prévue", "Планируемая деятельность", "Actividad prevista"},
	"field.sectors":  {"القطاعات المتضررة", "受影响的部门", "Affected sectors", "Secteurs touchés", "Затронутые секторы", "Sectores afectados"},
	"field.sectors_concerned": {"القطاعات المعنية", "涉及的部门", "Sectors concerned", "Secteurs concernés", "Затрагиваемые секторы",
		"Sectores implicados"},
	"field.norms": {"معايير الأمم المتحدة المعنية", "涉及的联合国规范", "UN norms concerned", "Normes des Nations Unies en cause",
		"Затрагиваемые нормы ООН", "Normas de las Naciones Unidas pertinentes"},
	"field.actions": {"الإجراءات المطلوبة", "请求采取的行动", "Requested actions", "Mesures demandées", "Запрашиваемые меры",
		"Medidas solicitadas"},
	"field.recommended_actions": {"الإجراءات الموصى بها", "建议采取的行动", "Recommended actions", "Mesures recommandées",
		"Рекомендуемые меры", "Medidas recomendadas"},
	"field.actions_taken": {"الإجراءات المتخذة", "已采取的行动", "Actions taken", "Mesures prises", "Принятые меры", "Medidas adoptadas"},
	"field.assistance": {"المساعدة المطلوبة", "请求的援助", "Assistance requested", "Assistance demandée", "Запрашиваемая помощь",
		"Asistencia solicitada"},
	"field.assistance_offered": {"المساعدة المعروضة", "提供的援助", "Assistance offered", "Assistance offerte", "Предлагаемая помощь",
		"Asistencia ofrecida"},
	"field.answer":   {"الرد", "答复", "Answer", "Réponse", "Ответ", "Respuesta"},
	"field.findings": {"الاستنتاجات", "调查结果", "Findings", "Constatations", "Выводы", "Conclusiones"},
	"field.meeting":  {"المشاورات", "磋商", "Consultations", "Consultations", "Консультации", "Consultas"},
	"field.meeting_proposed": {"المشاورات المقترحة", "建议的磋商安排", "Proposed consultations", "Consultations proposées",
		"Предлагаемые консультации", "Consultas propuestas"},
	"field.status":     {"الحالة", "状态", "Status", "État", "Статус", "Estado"},
	"field.resolution": {"النتيجة", "结果", "Outcome", "Résultat", "Итог", "Resultado"},
	"field.reason":     {"سبب السحب", "撤回原因", "Reason for retraction", "Motif du retrait", "Причина отзыва", "Motivo de la retirada"},
	"field.contacts": {"جهات الاتصال المختبرة", "受测试的联络人", "Contacts tested", "Contacts testés", "Проверяемые контакты",
		"Contactos sometidos a prueba"},
	"field.challenge": {"رمز التحقق", "验证码", "Challenge code", "Code de vérification", "Контрольный код", "Código de verificación"},
	"field.acknowledged_by": {"أقرّ بالاستلام", "确认人", "Acknowledged by", "Réception confirmée par", "Получение подтвердил(а)",
		"Acuse de recibo de"},
	"field.vulnerabilities": {"الثغرات الأمنية", "漏洞", "Vulnerabilities", "Vulnérabilités", "Уязвимости", "Vulnerabilidades"},
	"field.stix": {"البيانات التقنية (STIX 2.1)", "技术数据（STIX 2.1）", "Technical data (STIX 2.1)", "Données techniques (STIX 2.1)",
		"Технические данные (STIX 2.1)", "Datos técnicos (STIX 2.1)"},
	"field.attachments": {"المرفقات", "附件", "Attachments", "Pièces jointes", "Вложения", "Archivos adjuntos"},
	"field.text":        {"النص", "正文", "Text", "Texte", "Текст", "Texto"},

	// Other labels.
	"label.severity": {"درجة الخطورة", "严重程度", "Severity", "Gravité", "Степень серьёзности", "Gravedad"},
	"label.marking":  {"علامة التداول", "分发标记", "Marking", "Marquage", "Маркировка", "Marcado"},
	"label.exercise": {"تمرين — ليس حادثًا حقيقيًا", "演习——非真实事件", "EXERCISE — NOT A REAL INCIDENT",
		"EXERCICE — CECI N'EST PAS UN INCIDENT RÉEL", "УЧЕНИЯ — НЕ РЕАЛЬНЫЙ ИНЦИДЕНТ", "EJERCICIO — NO ES UN INCIDENTE REAL"},
	"label.critical_infrastructure": {"(بنية تحتية حيوية)", "（关键基础设施）", "(critical infrastructure)", "(infrastructure critique)",
		"(критически важная инфраструктура)", "(infraestructura crítica)"},
	"label.start":          {"البداية", "开始", "Start", "Début", "Начало", "Inicio"},
	"label.end":            {"النهاية", "结束", "End", "Fin", "Окончание", "Fin"},
	"label.detected":       {"تاريخ الاكتشاف", "发现时间", "Detected", "Détection", "Обнаружено", "Detección"},
	"label.ongoing":        {"مستمر", "持续中", "ongoing", "en cours", "продолжается", "en curso"},
	"label.type":           {"النوع", "类型", "Type", "Type", "Тип", "Tipo"},
	"label.format":         {"الشكل", "形式", "Format", "Format", "Формат", "Formato"},
	"label.proposed_times": {"المواعيد المقترحة", "建议时间", "Proposed times", "Dates proposées", "Предлагаемое время", "Horarios propuestos"},
	"label.objects":        {"عدد الكائنات", "对象数量", "Objects", "Nombre d'objets", "Число объектов", "Número de objetos"},
	"label.bytes":          {"بايت", "字节", "bytes", "octets", "байт", "bytes"},

	// The six languages, as a body's language names them.
	"language.ar": {"العربية", "阿拉伯文", "Arabic", "arabe", "арабский", "árabe"},
	"language.zh": {"الصينية", "中文", "Chinese", "chinois", "китайский", "chino"},
	"language.en": {"الإنكليزية", "英文", "English", "anglais", "английский", "inglés"},
	"language.fr": {"الفرنسية", "法文", "French", "français", "французский", "francés"},
	"language.ru": {"الروسية", "俄文", "Russian", "russe", "русский", "ruso"},
	"language.es": {"الإسبانية", "西班牙文", "Spanish", "espagnol", "испанский", "español"},

	// Sectors.
	"sector.energy":    {"الطاقة", "能源", "Energy", "Énergie", "Энергетика", "Energía"},
	"sector.transport": {"النقل", "交通运输", "Transport", "Transports", "Транспорт", "Transporte"},
	"sector.finance": {"المصارف والمالية", "银行和金融", "Banking and finance", "Banque et finance", "Банковское дело и финансы",
		"Banca y finanzas"},
	"sector.health": {"الصحة", "卫生", "Health", "Santé", "Здравоохранение", "Salud"},
	"sector.water": {"إمدادات المياه والصرف الصحي", "供水和卫生设施", "Water supply and sanitation", "Eau et assainissement",
		"Водоснабжение и водоотведение", "Agua y saneamiento"},
	"sector.food": {"الأغذية والزراعة", "粮食和农业", "Food and agriculture", "Alimentation et agriculture",
		"Продовольствие и сельское хозяйство", "Alimentación y agricultura"},
	"sector.chemicals": {"الصناعات الكيميائية", "化学工业", "Chemicals", "Industrie chimique", "Химическая промышленность",
		"Industria química"},
	"sector.manufacturing": {"الصناعة التحويلية", "制造业", "Manufacturing", "Industrie manufacturière", "Обрабатывающая промышленность",
		"Industria manufacturera"},
	"sector.digital_infrastructure": {"البنية التحتية الرقمية (نظام أسماء النطاقات، الحوسبة السحابية، مراكز البيانات)",
		"数字基础设施（域名系统、云服务、数据中心）", "Digital infrastructure (DNS, cloud, data centres)",
		"Infrastructures numériques (DNS, informatique en nuage, centres de données)",
		"Цифровая инфраструктура (DNS, облачные услуги, центры обработки данных)",
		"Infraestructura digital (DNS, nube, centros de datos)"},
	"sector.telecommunications": {"الاتصالات", "电信", "Telecommunications", "Télécommunications", "Электросвязь", "Telecomunicaciones"},
	"sector.space":              {"الفضاء", "航天", "Space", "Espace", "Космическая деятельность", "Espacio"},
	"sector.government": {"الحكومة والإدارة العامة", "政府和公共行政", "Government and public administration",
		"Gouvernement et administration publique", "Государственное управление", "Gobierno y administración pública"},
	"sector.defence": {"الدفاع", "国防", "Defence", "Défense", "Оборона", "Defensa"},
	"sector.emergency_services": {"خدمات الطوارئ", "应急服务", "Emergency services", "Services d'urgence", "Экстренные службы",
		"Servicios de emergencia"},
	"sector.elections": {"البنية التحتية الانتخابية", "选举基础设施", "Electoral infrastructure", "Infrastructure électorale",
		"Избирательная инфраструктура", "Infraestructura electoral"},
	"sector.research_education": {"البحث العلمي والتعليم", "科研和教育", "Research and education", "Recherche et éducation",
		"Наука и образование", "Investigación y educación"},
	"sector.media": {"وسائط الإعلام", "媒体", "Media", "Médias", "Средства массовой информации", "Medios de comunicación"},

	// The norms of A/70/174, paragraph 13.
	"norm.13a": {
		"التعاون من أجل زيادة الاستقرار والأمن في استخدام تكنولوجيا المعلومات والاتصالات",
		"合作加强信通技术使用的稳定与安全",
		"Cooperate to increase stability and security in the use of ICTs",
		"Coopérer pour renforcer la stabilité et la sécurité dans l'utilisation des TIC",
		"Сотрудничать в целях повышения стабильности и безопасности в использовании ИКТ",
		"Cooperar para aumentar la estabilidad y la seguridad en el uso de las TIC"},
	"norm.13b": {
		"النظر في جميع المعلومات ذات الصلة في حالة وقوع حوادث تتعلق بتكنولوجيا المعلومات والاتصالات",
		"发生信通技术事件时考虑所有相关信息",
		"Consider all relevant information in case of ICT incidents",
		"Examiner toutes les informations pertinentes en cas d'incident lié aux TIC",
		"Учитывать всю соответствующую информацию в случае инцидентов в сфере ИКТ",
		"Considerar toda la información pertinente en caso de incidentes relacionados con las TIC"},
	"norm.13c": {
		"عدم السماح عن علم باستخدام الإقليم لارتكاب أفعال غير مشروعة دوليًا باستخدام تكنولوجيا المعلومات والاتصالات",
		"不蓄意允许本国领土被用于利用信通技术实施国际不法行为",
		"Do not knowingly allow territory to be used for internationally wrongful acts using ICTs",
		"Ne pas permettre sciemment que son territoire soit utilisé pour commettre des faits internationalement illicites à l'aide des TIC",
		"Не допускать сознательно использования своей территории для совершения международно-противоправных деяний с применением ИКТ",
		"No permitir deliberadamente que su territorio se utilice para cometer hechos internacionalmente ilícitos mediante las TIC"},
	"norm.13d": {
		"التعاون على تبادل المعلومات والمساعدة في ملاحقة استخدام تكنولوجيا المعلومات والاتصالات لأغراض إرهابية وإجرامية",
		"合作交流信息并协助起诉恐怖分子和犯罪分子使用信通技术的行为",
		"Cooperate to exchange information and help prosecute terrorist and criminal use of ICTs",
		"Coopérer pour échanger des informations et aider à poursuivre l'utilisation des TIC à des fins terroristes et criminelles",
		"Сотрудничать в обмене информацией и содействовать преследованию за использование ИКТ в террористических и преступных целях",
		"Cooperar para intercambiar información y ayudar a enjuiciar el uso de las TIC con fines terroristas y delictivos"},
	"norm.13e": {
		"احترام حقوق الإنسان والحق في الخصوصية",
		"尊重人权和隐私权",
		"Respect human rights and the right to privacy",
		"Respecter les droits de l'homme et le droit à la vie privée",
		"Уважать права человека и право на неприкосновенность частной жизни",
		"Respetar los derechos humanos y el derecho a la privacidad"},
	"norm.13f": {
		"عدم القيام بأي نشاط في مجال تكنولوجيا المعلومات والاتصالات أو دعمه يُلحق الضرر عمدًا بالبنية التحتية الحيوية",
		"不开展或支持蓄意破坏关键基础设施的信通技术活动",
		"Do not conduct or support ICT activity that intentionally damages critical infrastructure",
		"Ne pas mener ni soutenir d'activité liée aux TIC qui endommage intentionnellement une infrastructure critique",
		"Не проводить и не поддерживать деятельность в сфере ИКТ, умышленно наносящую ущерб критически важной инфраструктуре",
		"No realizar ni apoyar actividades relacionadas con las TIC que dañen intencionadamente infraestructuras críticas"},
	"norm.13g": {
		"حماية البنية التحتية الحيوية من التهديدات المتصلة بتكنولوجيا المعلومات والاتصالات",
		"保护关键基础设施免受信通技术威胁",
		"Protect critical infrastructure from ICT threats",
		"Protéger les infrastructures critiques contre les menaces liées aux TIC",
		"Защищать критически важную инфраструктуру от угроз в сфере ИКТ",
		"Proteger las infraestructuras críticas frente a las amenazas relacionadas con las TIC"},
	"norm.13h": {
		"الاستجابة للطلبات المناسبة للحصول على المساعدة",
		"响应适当的援助请求",
		"Respond to appropriate requests for assistance",
		"Répondre aux demandes d'assistance appropriées",
		"Откликаться на надлежащие просьбы о помощи",
		"Responder a las solicitudes de asistencia apropiadas"},
	"norm.13i": {
		"ضمان سلامة سلسلة الإمداد",
		"确保供应链的完整性",
		"Ensure the integrity of the supply chain",
		"Garantir l'intégrité de la chaîne d'approvisionnement",
		"Обеспечивать целостность цепочки поставок",
		"Garantizar la integridad de la cadena de suministro"},
	"norm.13j": {
		"الإبلاغ المسؤول عن مواطن الضعف في تكنولوجيا المعلومات والاتصالات",
		"负责任地报告信通技术漏洞",
		"Report ICT vulnerabilities responsibly",
		"Signaler de manière responsable les vulnérabilités des TIC",
		"Ответственно сообщать об уязвимостях в сфере ИКТ",
		"Notificar de manera responsable las vulnerabilidades de las TIC"},
	"norm.13k": {
		"عدم الإضرار بأفرقة الاستجابة لحالات الطوارئ",
		"不损害应急响应小组",
		"Do not harm emergency response teams",
		"Ne pas porter atteinte aux équipes d'intervention d'urgence",
		"Не наносить ущерба группам реагирования на чрезвычайные ситуации",
		"No dañar a los equipos de respuesta a emergencias"},

	// Actions (after IODEF).
	"action.investigate": {"التحقيق", "调查", "Investigate", "Enquêter", "Провести расследование", "Investigar"},
	"action.block":       {"حجب المصدر", "阻断来源", "Block the source", "Bloquer la source", "Заблокировать источник", "Bloquear el origen"},
	"action.mitigate":    {"التخفيف من الآثار", "减轻影响", "Mitigate the effects", "Atténuer les effets", "Смягчить последствия", "Mitigar los efectos"},
	"action.contact": {"الاتصال بالمسؤولين عن المصدر", "联系来源的责任方", "Contact those responsible for the source",
		"Contacter les responsables de la source", "Связаться с ответственными за источник", "Contactar con los responsables del origen"},
	"action.report_back": {"موافاتنا بالنتائج", "反馈结果", "Report back", "Rendre compte", "Сообщить о результатах",
		"Informar de los resultados"},
	"action.preserve_evidence": {"حفظ الأدلة", "保全证据", "Preserve evidence", "Préserver les preuves", "Сохранить доказательства",
		"Preservar las pruebas"},
	"action.share_indicators": {"تبادل المؤشرات", "共享指标", "Share indicators", "Partager les indicateurs", "Обменяться индикаторами",
		"Compartir indicadores"},
	"action.takedown": {"تفكيك البنية التحتية الضارة", "关停恶意基础设施", "Take down malicious infrastructure",
		"Démanteler l'infrastructure malveillante", "Ликвидировать вредоносную инфраструктуру", "Desmantelar la infraestructura maliciosa"},
	"action.monitor": {"الرصد", "监测", "Monitor", "Surveiller", "Вести мониторинг", "Vigilar"},
	"action.patch": {"تطبيق التحديثات الأمنية", "安装安全更新", "Apply security updates", "Appliquer les mises à jour de sécurité",
		"Установить обновления безопасности", "Aplicar actualizaciones de seguridad"},

	// Assistance.
	"assistance.incident_response": {"فريق الاستجابة للحوادث", "事件响应小组", "Incident response team",
		"Équipe d'intervention en cas d'incident", "Группа реагирования на инциденты", "Equipo de respuesta a incidentes"},
	"assistance.forensic_analysis": {"التحليل الجنائي الرقمي", "数字取证分析", "Forensic analysis", "Analyse forensique",
		"Криминалистический анализ", "Análisis forense"},
	"assistance.malware_analysis": {"تحليل البرمجيات الخبيثة", "恶意软件分析", "Malware analysis", "Analyse de logiciels malveillants",
		"Анализ вредоносного программного обеспечения", "Análisis de programas maliciosos"},
	"assistance.threat_information": {"معلومات عن التهديدات", "威胁信息", "Threat information", "Informations sur la menace",
		"Информация об угрозах", "Información sobre amenazas"},
	"assistance.network_mitigation": {"تدابير التخفيف على مستوى الشبكة (التصفية، تحويل حركة البيانات)", "网络层面的缓解（过滤、流量牵引）",
		"Network mitigation (filtering, sinkholing)", "Atténuation au niveau du réseau (filtrage, détournement du trafic)",
		"Меры на уровне сети (фильтрация, перенаправление трафика)", "Mitigación en la red (filtrado, desvío del tráfico)"},
	"assistance.law_enforcement": {"التعاون في مجال إنفاذ القانون", "执法合作", "Law enforcement cooperation",
		"Coopération entre services répressifs", "Сотрудничество правоохранительных органов", "Cooperación policial"},
	"assistance.coordination": {"التنسيق مع أطراف ثالثة", "与第三方协调", "Coordination with third parties", "Coordination avec des tiers",
		"Координация с третьими сторонами", "Coordinación con terceros"},

	// Answers.
	"answer.accepted": {"تم قبول الطلب", "接受请求", "Request accepted", "Demande acceptée", "Запрос принят", "Solicitud aceptada"},
	"answer.accepted_in_part": {"تم قبول الطلب جزئيًا", "部分接受请求", "Request accepted in part", "Demande acceptée en partie",
		"Запрос принят частично", "Solicitud aceptada en parte"},
	"answer.declined": {"تم رفض الطلب", "拒绝请求", "Request declined", "Demande refusée", "В запросе отказано", "Solicitud rechazada"},
	"answer.time_proposed": {"اقتراح موعد آخر", "建议另定时间", "Another time proposed", "Autre date proposée", "Предложено другое время",
		"Se propone otra fecha"},
	"answer.information_provided": {"تم تقديم المعلومات", "已提供信息", "Information provided", "Informations communiquées",
		"Информация предоставлена", "Información facilitada"},

	// Findings.
	"finding.activity_confirmed": {"تم تأكيد النشاط", "已确认该活动", "Activity confirmed", "Activité confirmée", "Деятельность подтверждена",
		"Actividad confirmada"},
	"finding.activity_stopped": {"تم إيقاف النشاط", "该活动已停止", "Activity stopped", "Activité arrêtée", "Деятельность прекращена",
		"Actividad detenida"},
	"finding.not_observed": {"لم يُرصد النشاط", "未观察到该活动", "Activity not observed", "Activité non observée", "Деятельность не обнаружена",
		"Actividad no observada"},
	"finding.infrastructure_misused": {"أساء طرف ثالث استخدام بنيتنا التحتية", "我方基础设施遭第三方滥用",
		"Our infrastructure was misused by a third party", "Notre infrastructure a été détournée par un tiers",
		"Наша инфраструктура была использована третьей стороной", "Un tercero hizo un uso indebido de nuestra infraestructura"},
	"finding.source_outside_territory": {"المصدر يقع خارج إقليمنا", "来源位于我方领土之外", "The source is outside our territory",
		"La source se trouve hors de notre territoire", "Источник находится за пределами нашей территории",
		"El origen se encuentra fuera de nuestro territorio"},
	"finding.insufficient_information": {"المعلومات غير كافية", "信息不足", "Insufficient information", "Informations insuffisantes",
		"Недостаточно информации", "Información insuficiente"},
	"finding.investigation_ongoing": {"التحقيق جارٍ", "调查仍在进行", "Investigation ongoing", "Enquête en cours", "Расследование продолжается",
		"Investigación en curso"},

	// Meeting formats.
	"meeting_format.video":     {"مؤتمر بالفيديو", "视频会议", "Video conference", "Visioconférence", "Видеоконференция", "Videoconferencia"},
	"meeting_format.in_person": {"اجتماع حضوري", "面对面会议", "In person", "En présentiel", "Очная встреча", "Presencial"},
	"meeting_format.telephone": {"عبر الهاتف", "电话", "Telephone", "Téléphone", "Телефон", "Teléfono"},
	"meeting_format.written":   {"كتابيًا", "书面", "In writing", "Par écrit", "В письменной форме", "Por escrito"},

	// Planned activities.
	"activity.exercise": {"تمرين سيبراني", "网络演习", "Cyber exercise", "Exercice cyber", "Киберучения", "Ejercicio cibernético"},
	"activity.security_testing": {"اختبار أمني مرخّص", "经授权的安全测试", "Authorised security testing", "Test de sécurité autorisé",
		"Санкционированное тестирование безопасности", "Prueba de seguridad autorizada"},
	"activity.research_scanning": {"مسح لأغراض البحث", "研究性扫描", "Research scanning", "Balayage à des fins de recherche",
		"Сканирование в исследовательских целях", "Escaneo con fines de investigación"},
	"activity.network_maintenance": {"صيانة الشبكة", "网络维护", "Network maintenance", "Maintenance du réseau",
		"Техническое обслуживание сети", "Mantenimiento de la red"},
	"activity.law_enforcement_operation": {"عملية لإنفاذ القانون", "执法行动", "Law enforcement operation",
		"Opération des services répressifs", "Правоохранительная операция", "Operación policial"},

	// Statuses.
	"status.investigating": {"قيد التحقيق", "正在调查", "Investigating", "En cours d'examen", "Проводится расследование", "En investigación"},
	"status.contained":     {"تم الاحتواء", "已控制", "Contained", "Circonscrit", "Локализовано", "Contenido"},
	"status.mitigated":     {"تم التخفيف", "已缓解", "Mitigated", "Atténué", "Последствия смягчены", "Mitigado"},
	"status.monitoring":    {"قيد الرصد", "持续监测中", "Under monitoring", "Sous surveillance", "Под наблюдением", "En vigilancia"},
	"status.escalated": {"تمت الإحالة إلى مستوى أعلى", "已提交上级处理", "Escalated", "Transmis à un niveau supérieur",
		"Передано на более высокий уровень", "Elevado a un nivel superior"},
	"status.awaiting_information": {"بانتظار معلومات", "等待信息", "Awaiting information", "En attente d'informations", "Ожидается информация",
		"A la espera de información"},

	// Resolutions.
	"resolution.resolved":   {"تمت التسوية", "已解决", "Resolved", "Résolu", "Урегулировано", "Resuelto"},
	"resolution.unresolved": {"لم تتم التسوية", "未解决", "Unresolved", "Non résolu", "Не урегулировано", "No resuelto"},
	"resolution.no_further_action": {"لا حاجة إلى إجراءات أخرى", "不再采取进一步行动", "No further action", "Aucune autre mesure",
		"Дальнейших действий не требуется", "Sin más actuaciones"},
	"resolution.referred": {"أحيل إلى قناة أخرى", "已转交其他渠道", "Referred to another channel", "Renvoyé vers un autre canal",
		"Передано по другому каналу", "Remitido a otro cauce"},
	"resolution.withdrawn": {"سحبه المرسِل", "发送方已撤回", "Withdrawn by the sender", "Retiré par l'expéditeur", "Отозвано отправителем",
		"Retirado por el remitente"},

	// Reasons for a retraction.
	"reason.error":     {"أرسلت عن طريق الخطأ", "误发", "Sent in error", "Envoyé par erreur", "Отправлено по ошибке", "Enviado por error"},
	"reason.duplicate": {"رسالة مكررة", "重复发送", "Duplicate", "Doublon", "Дубликат", "Duplicado"},
	"reason.superseded": {"حلت محلها رسالة لاحقة", "已被后续消息取代", "Superseded by a later message", "Remplacé par un message ultérieur",
		"Заменено более поздним сообщением", "Sustituido por un mensaje posterior"},
	"reason.wrong_recipient": {"مرسَل إليه خاطئ", "收件方有误", "Wrong recipient", "Mauvais destinataire", "Неверный получатель",
		"Destinatario equivocado"},
	"reason.false_positive": {"إنذار كاذب", "误报", "False positive", "Faux positif", "Ложное срабатывание", "Falso positivo"},
}

// Label returns the label or code name under key in lang: "kind.ping",
// "field.title", "sector.energy", "norm.13f", ...
func Label(lang Language, key string) (string, bool) {
	e, ok := catalogue[key]
	if !ok || !lang.known() {
		return "", false
	}
	return e.in(lang), true
}

// CodeName returns the name of code of vocabulary v in lang.
func CodeName(lang Language, v Vocabulary, code string) (string, bool) {
	if !v.Has(code) {
		return "", false
	}
	return Label(lang, string(v)+"."+code)
}

// CatalogueKeys returns every key of the catalogue, sorted.
func CatalogueKeys() []string {
	keys := make([]string, 0, len(catalogue))
	for k := range catalogue {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (l Language) known() bool {
	for _, k := range Languages() {
		if k == l {
			return true
		}
	}
	return false
}
