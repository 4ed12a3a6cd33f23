import { AppConfig } from '../../config/config';
import { SocialRef } from '../../domain/work-item';
import { checkMaxLength, checkNoControlChars } from './fields';
import { quote, reject } from './rejection';
import { attributePath } from './xml-path';
import { XmlNode } from './xml-node';

const PATH = '/workItem/social';
const MAX_ATTRIBUTE_CHARS = 256;

/**
 * `<social platform=".." pageId=".." postId=".." author=".."/>`: the page must be configured,
 * and its configured entrance must be the item's entrance.
 */
export function readSocial(node: XmlNode, entrance: string, social: AppConfig['social']): SocialRef {
  const platform = socialAttribute(node, 'platform', true);
  const pageId = socialAttribute(node, 'pageId', true);
  const postId = socialAttribute(node, 'postId', false);
  const author = socialAttribute(node, 'author', false);
  // hasOwn: platform and page id are sender data and must not reach Object.prototype members
  const platformConfig = Object.hasOwn(social, platform) ? social[platform] : undefined;
  const page = platformConfig && Object.hasOwn(platformConfig.pages, pageId) ? platformConfig.pages[pageId] : undefined;
  if (!page) {
    reject('SOCIAL_NOT_CONFIGURED', `${quote(platform)} page ${quote(pageId)} is not configured`, PATH);
  }
  if (page.entrance !== entrance) {
    reject(
      'INVALID_FIELD',
      `items for ${quote(platform)} page ${quote(pageId)} must use entrance ${quote(page.entrance)}`,
      '/workItem/entrance',
    );
  }
  return {
    platform,
    pageId,
    ...(postId !== undefined && { postId }),
    ...(author !== undefined && { author }),
    pageName: page.displayName,
    ...(platformConfig?.displayName !== undefined && { platformName: platformConfig.displayName }),
  };
}

function socialAttribute(node: XmlNode, name: string, required: true): string;
function socialAttribute(node: XmlNode, name: string, required: false): string | undefined;
function socialAttribute(node: XmlNode, name: string, required: boolean): string | undefined {
  const path = attributePath(PATH, name);
  const value = node.attributes.get(name)?.trim();
  if (value === undefined || value === '') {
    if (required) reject('MISSING_FIELD', `<social> needs a ${name} attribute`, path);
    return undefined;
  }
  checkMaxLength(value, MAX_ATTRIBUTE_CHARS, name, path);
  checkNoControlChars(value, name, path);
  return value;
}
